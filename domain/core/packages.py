"""A package keeps its code in named modules (service.py, ...) and re-exports it from __init__.py."""


def keep_package_home(namespace: dict) -> None:
    """The types a package's module defines answer to the package as their module, as they did when
    they were defined in its __init__.py: the OpenAPI document names colliding types by their module
    path (`reports_Report`, `units_Report`), and the package is the path importers use. Call it at
    the end of the module with globals()."""
    module = namespace["__name__"]
    package = module.rsplit(".", 1)[0]
    for value in list(namespace.values()):
        if isinstance(value, type) and value.__module__ == module:
            value.__module__ = package
