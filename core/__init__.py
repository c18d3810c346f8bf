"""The platform kernel: what every app uses."""
