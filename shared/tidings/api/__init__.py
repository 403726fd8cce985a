"""HTTP API: request and response models and the routes, mapped to the use-cases."""
