"""The console speaks Chinese unless the person chose English with the switch (the language cookie).

Django's LocaleMiddleware also follows the browser's Accept-Language, which is right for the API (its
error messages) but not for the console's pages, whose users expect the Chinese interface by default
whatever their browser's settings. Runs after LocaleMiddleware and only outside /api/ and /admin/."""
from django.conf import settings
from django.utils import translation


class ConsoleLanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(("/api/", "/admin/")):
            lang = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
            lang = lang if lang in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
            translation.activate(lang)
            request.LANGUAGE_CODE = lang
        return self.get_response(request)
