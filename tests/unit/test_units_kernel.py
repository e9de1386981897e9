"""Differential: harness.units' command-line reading against the kernel's own code.

lib/cmdline.c:memparse and next_arg, kernel/params.c:parse_args' ``--`` rule,
lib/vsprintf.c:simple_strtoull (with lib/kstrtox.c) and lib/ctype.c's table are cut
out of the Debian source of each kernel version and compiled into a small filter that
reads the same random text.  Skipped only when the sources (or gcc) are not installed.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.units import kernel_params, memparse, parse_percent
from kernels.source import source_tree

PRELUDE = r"""
#include <limits.h>
#include <stdio.h>
#include <string.h>
#define fallthrough __attribute__((fallthrough))
#define noinline
#define unlikely(x) (x)
#define KSTRTOX_OVERFLOW (1U << 31)
#define _tolower(c) ((c) | 0x20)
static unsigned long long div_u64(unsigned long long a, unsigned int b) { return a / b; }
"""
# The kernel's isspace and isxdigit (its table, unlike glibc's "C" locale, has 0xA0 as space).
CTYPE = r"""
#define __ismask(x) (_ctype[(int)(unsigned char)(x)])
#define isspace(c) ((__ismask(c)&(_S)) != 0)
#define isxdigit(c) ((__ismask(c)&(_D|_X)) != 0)
static char *skip_spaces(const char *s) { while (isspace(*s)) s++; return (char *)s; }
"""

# One request per line: "m <text>" memparse, "p <text>" the percent test, "k <text>" parse_args.
MAIN = r"""
int main(void) {
    static char line[1 << 16];
    while (fgets(line, sizeof line, stdin)) {
        char *s = line + 2, *end, *param, *val;
        line[strcspn(line, "\n")] = 0;
        if (line[0] == 'm') {
            unsigned long long v = memparse(s, &end);
            printf("%llu|%s\n", v, end);
        } else if (line[0] == 'p') {
            unsigned long long v = simple_strtoull(s, &end, 0);
            if (*end == '%') printf("%llu\n", v); else printf("None\n");
        } else {
            s = skip_spaces(s);
            while (*s) {
                s = next_arg(s, &param, &val);
                if (!val && strcmp(param, "--") == 0) break;
                if (val) printf("<%s>=<%s>", param, val); else printf("<%s>", param);
            }
            printf("\n");
        }
        fflush(stdout);
    }
    return 0;
}
"""

FUNCTIONS = (
    ("lib/kstrtox.c", r"const char \*_parse_integer_fixup_radix\("),
    ("lib/kstrtox.c", r"unsigned int _parse_integer_limit\("),
    ("lib/vsprintf.c", r"(static )?(noinline )?unsigned long long simple_strntoull\("),
    ("lib/vsprintf.c", r"unsigned long long simple_strtoull\("),
    ("lib/cmdline.c", r"unsigned long long memparse\("),
    ("lib/cmdline.c", r"char \*next_arg\("),
)


def _function(source: str, signature: str, end: str = r"^}$") -> str:
    """The definition starting at ``signature`` (at a line start) up to ``end``
    (default: the function's closing brace)."""
    match = re.search(rf"^{signature}.*?{end}", source, re.MULTILINE | re.DOTALL)
    assert match, f"no {signature} in the source"
    return match.group(0)


class KernelReader:
    """The compiled filter, one line in, one line out."""

    def __init__(self, binary: Path) -> None:
        self.proc = subprocess.Popen([str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, encoding="latin-1")

    def ask(self, mode: str, text: str) -> str:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(f"{mode} {text}\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().rstrip("\n")

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module", params=["6.1", "6.12"])
def kernel(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelReader]:
    version: str = request.param
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    tree = source_tree(version)
    masks = re.findall(r"^#define _[A-Z]+\s+0x[0-9a-f]+.*$", (tree / "include/linux/ctype.h").read_text(), re.M)
    table = _function((tree / "lib/ctype.c").read_text(), r"const unsigned char _ctype\[\] = \{", r"\};")
    parts = ["\n".join(masks), table, CTYPE]
    parts += [_function((tree / path).read_text(), signature) for path, signature in FUNCTIONS]
    work = tmp_path_factory.mktemp(f"cmdline-{version}")
    (work / "reader.c").write_text(PRELUDE + "\n\n".join(parts) + MAIN)
    subprocess.run(["gcc", "-O1", "-w", "-o", str(work / "reader"), str(work / "reader.c")], check=True)
    reader = KernelReader(work / "reader")
    yield reader
    reader.close()


# Digits, suffixes, hex letters, words that mean something on a command line, and
# (often, as they only matter in combination) the characters next_arg treats specially.
TEXT = st.lists(st.sampled_from([*"0123456789xXabcdefgkKmMtTpPeE%-_\t\v\xa0", "--", "0x", "00",
                                 "movable_node", *'=" ' * 3, '="']), max_size=14).map("".join)


@settings(max_examples=1000, deadline=None)
@given(TEXT)
def test_memparse_and_percent_read_like_the_kernel(kernel: KernelReader, text: str) -> None:
    value, rest = memparse(text)
    assert kernel.ask("m", text) == f"{value}|{rest}"
    assert kernel.ask("p", text) == str(parse_percent(text))


@settings(max_examples=1000, deadline=None)
@given(TEXT)
def test_kernel_params_split_like_the_kernel(kernel: KernelReader, text: str) -> None:
    ours = "".join(f"<{p}>" if v is None else f"<{p}>=<{v}>" for p, v in kernel_params(text))
    assert kernel.ask("k", text) == ours
