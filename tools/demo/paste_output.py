#!/usr/bin/env python3
"""Pastes the output of a `make demo` run into docs/demo.md, so the page shows what the demo prints.

    make demo 2>&1 | tee /tmp/demo.out
    tools/demo/paste_output.py /tmp/demo.out docs/demo.md

In the page, a line `<!-- demo-output: == Some heading -->` followed by a ```text block marks where
the section of the output that starts with that heading goes (up to the next "== " heading or blank
line pair). The block is replaced; everything else is left as it is. A heading not found in the
output is an error (the page names a section the demo no longer prints).
"""
import re
import sys


def section(out, heading):
    i = out.find("\n" + heading)
    if i < 0:
        sys.exit("paste_output: %r is not in the demo's output" % heading)
    rest = out[i + 1:]
    m = re.search(r"\n(?:== |\n\n)", rest[len(heading):])
    return (rest if m is None else rest[:len(heading) + m.start()]).rstrip("\n")


def main():
    out = open(sys.argv[1]).read()
    page = open(sys.argv[2]).read()
    # the block runs to the next line that is only ``` (it may be empty)
    marker = re.compile(r"(<!-- demo-output: (.+?) -->\n```text\n)(?:.*?\n)??(```$)", re.S | re.M)
    page, n = marker.subn(lambda m: m.group(1) + section(out, m.group(2)) + "\n" + m.group(3), page)
    open(sys.argv[2], "w").write(page)
    print("paste_output: %d sections pasted into %s" % (n, sys.argv[2]))


if __name__ == "__main__":
    main()
