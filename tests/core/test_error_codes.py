"""Every error code lives in its app's errors enum: no module of core/, shortener/, chat/, feed/ or rides/ spells one,
and every error body comes from the one builder in core.errors.

The scan is syntactic (ast), so it sees every way a code reaches a client: a ``"code"`` key in a
dict literal, a ``code=`` keyword, the code argument of the error constructors and body builders,
and a value assigned to a variable named ``code``/``error_code`` (a literal, or picked from a dict
literal). Only a reference (``ChatError.BLOCKED``, ``exc.code``) may stand there. A dict literal
with both ``"error"`` and ``"code"`` keys is an error body built by hand: only ``core/errors.py``
builds those.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED_APPS = ("core", "shortener", "chat", "feed", "rides")

# Callable name -> index of its positional ``code`` argument.
CODE_ARGUMENT = {
    "ApplicationError": 1,
    "NotFound": 1,
    "FieldError": 2,
    "error_body": 1,
    "error_json": 1,
    "error_frame": 1,
    "error_response": 1,
}


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _is_text(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


CODE_VARIABLES = {"code", "error_code"}
BODY_BUILDER = "core/errors.py"


def _literal_choice(node: ast.expr) -> bool:
    """A string literal, or ``{...: "literal", ...}[key]``."""
    if _is_text(node):
        return True
    return (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Dict)
            and any(_is_text(value) for value in node.value.values))


def literal_codes(source: str, filename: str = "<snippet>") -> list[str]:
    """``file:line: what`` for every error code written as a string literal in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Dict):
            keys = {key.value for key in node.keys if _is_text(key)}
            if {"error", "code"} <= keys and filename != BODY_BUILDER:
                found.append(f"{filename}:{node.lineno}: an error body built by hand (use core.errors)")
            for key, value in zip(node.keys, node.values, strict=True):
                if _is_text(key) and key.value == "code" and _is_text(value):
                    found.append(f"{filename}:{value.lineno}: \"code\": {value.value!r}")
        elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id in CODE_VARIABLES for t in targets) and _literal_choice(node.value):
                found.append(f"{filename}:{node.lineno}: a code assigned from a literal")
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "code" and _is_text(keyword.value):
                    found.append(f"{filename}:{keyword.value.lineno}: code={keyword.value.value!r}")
            index = CODE_ARGUMENT.get(_name(node.func) or "")
            if index is not None and len(node.args) > index and _is_text(node.args[index]):
                found.append(f"{filename}:{node.lineno}: {_name(node.func)}(..., {node.args[index].value!r})")
    return found


def _modules():
    for app in SCANNED_APPS:
        yield from sorted((ROOT / app).rglob("*.py"))


@pytest.mark.parametrize("snippet", [
    'JsonResponse({"error": "Gone.", "code": "link_gone"}, status=410)',
    'raise FieldError({"host": "Taken."}, code="duplicate")',
    'raise ApplicationError("No.", "not_allowed", status=403)',
    'raise errors.ApplicationError("No.", "not_allowed")',
    'raise NotFound("Missing.", "not_found")',
    'raise FieldError({"a": "b"}, "A is wrong.", "bad_a")',
    'body = error_json("Too large.", "too_large")',
    'await self.send_json(error_frame("Bad frame.", "invalid_json", ref))',
    'return error_response("Slow down.", "rate_limited", 429)',
    'answers = [(500, {"error": "Internal server error.", "code": "server_error"})] * n',
    'code = {403: "password_wrong", 429: "rate_limited"}[status]',
    'error_code = "unavailable"',
    'return {"type": "error", "code": str(code), "error": message, "ref": ref}',
])
def test_the_scan_catches_each_way_of_writing_a_literal_code(snippet):
    assert literal_codes(snippet), snippet


@pytest.mark.parametrize("snippet", [
    'raise FieldError({"host": "Taken."}, code=ShortenerErrorCode.HOST_ALREADY_BLOCKED)',
    'raise ApplicationError("No.", CoreError.PERMISSION_DENIED, status=403)',
    'result = {"row": 1, "status": "error", **exc.as_dict()}',
    'code = match.group(1)',
    'await send({"type": "websocket.close", "code": UNAUTHENTICATED_CLOSE_CODE})',
    'class ChatError(StrEnum):\n    BLOCKED = "blocked"',
])
def test_the_scan_lets_enum_members_and_references_through(snippet):
    assert literal_codes(snippet) == []


def test_no_module_of_any_app_writes_a_literal_error_code():
    modules = list(_modules())
    assert len(modules) > 100  # the scan really covers the apps
    assert {path.relative_to(ROOT).parts[0] for path in modules} == set(SCANNED_APPS)
    found = [hit for path in modules for hit in literal_codes(path.read_text(), str(path.relative_to(ROOT)))]
    assert found == []
