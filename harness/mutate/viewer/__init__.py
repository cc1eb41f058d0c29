"""The HTML report: Stryker's own viewer (mutation-testing-elements) with the report inlined.

The viewer's JavaScript is bundled in the package (pinned, with its licence; see
NOTICE), and inlined into each page with the report, as Stryker's HTML reporter
does: the page needs no network and no other file at view time.
"""

from __future__ import annotations

import hashlib
import html
import json
from functools import cache
from importlib import resources
from typing import Any

VIEWER_VERSION = "3.9.0"
VIEWER_SHA256 = "751fb010242b0b44e32d84fe7fe0b9ff1da182823b94f59f5c52b001fcfc163b"
VIEWER_SCRIPT = "mutation-test-elements.js"

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<!-- mutation-testing-elements {version} (Apache-2.0), bundled by iu-harness -->
<script>{script}</script>
</head>
<body>
<mutation-test-report-app title-postfix="{title}"></mutation-test-report-app>
<script>
document.querySelector("mutation-test-report-app").report = {report};
</script>
</body>
</html>
"""


@cache
def viewer_script() -> str:
    """The bundled viewer, checked against its pinned hash (a damaged copy is refused, not shown)."""
    data = resources.files(__package__).joinpath(VIEWER_SCRIPT).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != VIEWER_SHA256:
        raise RuntimeError(f"bundled {VIEWER_SCRIPT} has sha256 {digest}, expected {VIEWER_SHA256} "
                           f"(mutation-testing-elements {VIEWER_VERSION}); reinstall iu-harness")
    return data.decode("utf-8")


def _inline_json(report: dict[str, Any]) -> str:
    """JSON safe inside a <script> element: no '<' can close it ('\\u003c' is the same string in JS)."""
    return json.dumps(report).replace("<", "\\u003c")


def render_html(report: dict[str, Any], title: str) -> str:
    """A self-contained page showing a Stryker mutation-testing report."""
    script = viewer_script()
    if "</script" in script.lower():
        raise RuntimeError(f"bundled {VIEWER_SCRIPT} contains '</script': it cannot be inlined")
    return PAGE.format(title=html.escape(f"iu-harness mutate: {title}"), version=VIEWER_VERSION, script=script,
                       report=_inline_json(report))
