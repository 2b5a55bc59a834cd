"""The usage examples in the docstrings run, so they cannot drift from the code they show."""

import doctest
import importlib
import pkgutil

import pytest

import demo_store
import fulfillment
import handlers
import tools

MODULES = sorted(
    info.name
    for package in (fulfillment, handlers, demo_store, tools)
    for info in pkgutil.iter_modules(package.__path__, f"{package.__name__}.")
)


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_hold(name):
    module = importlib.import_module(name)
    failed, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert failed == 0, f"{name}: {failed} docstring example(s) no longer hold (see the output above)"
