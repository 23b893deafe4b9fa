"""The runtime's modules import each other in one direction, at the top of each module.

Read from the source with `ast`, not by importing: a circle held together by an import inside a
function works until the day the function runs first, so the test looks at the text.
"""
import ast
import os
import unittest

from helpers import RUNTIME

# Imports inside functions, each a decision about start-up cost (the comment beside each says why).
DELIBERATE_LAZY_IMPORTS = {
    ("codemode_runtime.lifeline", "_socket"),
    ("mcp.runtime", "pickle"),
    ("mcp.runtime", "mimetypes"),
}


def runtime_modules():
    """Module name -> parsed source, for every module of the runtime."""
    root = os.path.abspath(RUNTIME)
    modules = {}
    for directory, _, files in os.walk(root):
        for file in files:
            if not file.endswith(".py"):
                continue
            path = os.path.join(directory, file)
            parts = os.path.relpath(path, root)[: -len(".py")].split(os.sep)
            if parts[-1] == "__init__":
                parts.pop()
            with open(path, encoding="utf-8") as handle:
                modules[".".join(parts)] = (ast.parse(handle.read(), path), file == "__init__.py")
    return modules


def imported_names(node, module, is_package):
    """The modules an import statement names, absolute."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    # `from package import submodule` imports the submodule; `from module import name` the module.
    return [base] + ["%s.%s" % (base, alias.name) for alias in node.names]


def is_type_checking_block(node):
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def top_level_imports(tree):
    """Import statements run when the module is imported (not those under `if TYPE_CHECKING:`)."""
    found = []
    pending = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, (ast.If, ast.Try)) and not is_type_checking_block(node):
            pending += node.body + node.orelse + getattr(node, "handlers", []) + getattr(node, "finalbody", [])
        elif isinstance(node, ast.ExceptHandler):
            pending += node.body
    return found


def nested_imports(tree):
    """Import statements inside a function or class body."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for child in ast.walk(node):
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    found.append(child)
    return found


class ImportGraphTests(unittest.TestCase):
    def setUp(self):
        self.modules = runtime_modules()

    def graph(self):
        """Module -> the runtime's modules it imports, at its top or inside a function (a circle closed
        inside a function is still a circle)."""
        edges = {}
        for module, (tree, is_package) in self.modules.items():
            targets = set()
            for node in top_level_imports(tree) + nested_imports(tree):
                targets.update(name for name in imported_names(node, module, is_package) if name in self.modules)
            edges[module] = targets - {module}
        return edges

    def test_the_runtime_has_no_import_circle(self):
        edges = self.graph()
        done = set()

        def visit(module, path):
            if module in path:
                self.fail("import circle: %s" % " -> ".join(path[path.index(module):] + [module]))
            if module in done:
                return
            for target in sorted(edges[module]):
                visit(target, path + [module])
            done.add(module)

        for module in sorted(edges):
            visit(module, [])

    def test_imports_inside_functions_are_only_the_deliberate_ones(self):
        lazy = set()
        for module, (tree, is_package) in self.modules.items():
            for node in nested_imports(tree):
                lazy.add((module, imported_names(node, module, is_package)[0]))
        self.assertEqual(lazy, DELIBERATE_LAZY_IMPORTS)

    def test_the_leaf_modules_import_no_other_module_of_the_runtime(self):
        edges = self.graph()
        for leaf in ("mcp", "codemode_runtime.sources", "codemode_runtime.shapes", "codemode_runtime.skill_names"):
            self.assertEqual(edges[leaf] - {"codemode_runtime"}, set(), leaf)

    def test_frames_is_imported_only_for_the_type_checker(self):
        # frames.py describes what the host sends, for basedpyright alone: the sandbox never loads it.
        edges = self.graph()
        importers = sorted(module for module, targets in edges.items() if "codemode_runtime.frames" in targets)
        self.assertEqual(importers, [])


if __name__ == "__main__":
    unittest.main()
