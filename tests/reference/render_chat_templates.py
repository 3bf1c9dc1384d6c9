#!/usr/bin/env python3
"""Independent reference for the C++ chat-template interpreter (core/tokenizer/chat_template.cpp).

Renders every case in tests/core/fixtures/chat_templates/cases.json with the real Jinja2, configured
the way transformers compiles chat templates (ImmutableSandboxedEnvironment, trim_blocks,
lstrip_blocks, loopcontrols, tojson = json.dumps(ensure_ascii=False), raise_exception), and checks the
result against expected/<case>.txt (or expected/<case>.error.txt for templates that raise).

  python3 tests/reference/render_chat_templates.py           # check; exit 1 on any difference
  python3 tests/reference/render_chat_templates.py --write   # regenerate the expected files
"""
import json
import pathlib
import sys
from datetime import datetime

from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "core" / "fixtures" / "chat_templates"


def environment():
    def raise_exception(message):
        raise TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.now().strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def main():
    write = "--write" in sys.argv[1:]
    env = environment()
    cases = json.loads((FIXTURES / "cases.json").read_text(encoding="utf-8"))["cases"]
    out_dir = FIXTURES / "expected"
    out_dir.mkdir(exist_ok=True)
    failures = 0
    for case in cases:
        source = (FIXTURES / case["template"]).read_text(encoding="utf-8")
        try:
            text, suffix = env.from_string(source).render(**case["context"]), ".txt"
        except TemplateError as e:
            text, suffix = str(e), ".error.txt"
        path = out_dir / (case["name"] + suffix)
        if write:
            path.write_bytes(text.encode("utf-8"))
        elif not path.exists() or path.read_bytes() != text.encode("utf-8"):
            failures += 1
            print(f"MISMATCH {path.name}:\n--- jinja2 ---\n{text!r}")
    print(f"{len(cases)} cases, {failures} mismatches" + (" (written)" if write else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
