from rest_framework.pagination import LimitOffsetPagination


class Pagination(LimitOffsetPagination):
    """``?limit=&offset=`` with a ceiling, so nobody can ask for every row (or a huge number)."""

    default_limit = 50
    max_limit = 200
