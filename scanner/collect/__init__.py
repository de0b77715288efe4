"""Collectors: AWS API pages in, model objects out. A failed call becomes an `ApiError`."""
