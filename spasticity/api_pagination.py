from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request


class StandardPagination(PageNumberPagination):
    """``{"count", "next", "previous", "results"}`` as the spec says.

    ``page_size`` is a whole number from 1; more than ``max_page_size`` gives ``max_page_size``.
    A malformed one is a 400 (DRF would quietly use the default), as the schema says.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request: Request) -> int:
        given = request.query_params.get(self.page_size_query_param)
        if given is None:
            return self.page_size
        try:
            size = int(given) if given.isdecimal() else 0
        except ValueError:  # more digits than Python converts
            size = self.max_page_size
        if size < 1:
            raise ValidationError({self.page_size_query_param: ["A whole number, 1 or more."]})
        return min(size, self.max_page_size)

    def get_page_number(self, request: Request, paginator: Any) -> Any:
        """``page`` as the schema says: a whole number from 1. DRF reads an empty one as page 1
        (and "last" as the last page); both are a 400 here, like a malformed ``page_size``."""
        given = request.query_params.get(self.page_query_param)
        if given is not None and not (given.isdecimal() and given.isascii() and int(given) >= 1):
            raise ValidationError({self.page_query_param: ["A whole number, 1 or more."]})
        return super().get_page_number(request, paginator)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                default, most = self.page_size, self.max_page_size
                parameter["description"] = f"Results per page: {default} by default, {most} at most."
        return parameters
