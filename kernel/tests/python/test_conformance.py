"""jupyter_kernel_test (Debian python3-jupyter-kernel-test) against the installed safesail kernelspec.

Every feature the kernel supports is switched on, so nothing is skipped: stdout/stderr streams, completion,
is_complete (complete / incomplete / invalid), the pager (`name?`), errors, execute_result, display_data,
history (tail, range, search), inspection and clear_output.

Run by kernel/tests/jupyter.test.ts with JUPYTER_PATH pointing at a temporary --prefix install; by hand:
    JUPYTER_PATH=<prefix>/share/jupyter /usr/bin/python3 -m unittest -v test_conformance
"""
import os
import unittest

import jupyter_kernel_test as jkt


class SafesailKernelTests(jkt.KernelTests):
    kernel_name = os.environ.get("SAFESAIL_KERNEL_NAME", "safesail")

    language_name = "typescript"
    file_extension = ".ts"

    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("something on stderr")'

    completion_samples = [
        {"text": "Math.ma", "matches": {"max"}},
        {"text": "conso", "matches": {"console"}},
        {"text": "const someLongName = 1; someLong", "matches": {"someLongName"}},
    ]

    complete_code_samples = ["1 + 1", "const a = 3;", "function f(x: number) { return x * 2; }", "for (const i of [1, 2]) console.log(i);"]
    incomplete_code_samples = ["function f() {", "const xs = [1, 2,", "if (true) {\n  console.log(1);", "`template"]
    invalid_code_samples = ["const = 1;", "let 3x = 2;", "1 +* 2", "}"]

    code_page_something = "Math.max?"

    code_generate_error = 'throw new Error("boom")'

    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": "'ab' + 'cd'", "result": "'abcd'"},
        {"code": "[1, 2, 3].map((x) => x * 2)", "result": "[ 2, 4, 6 ]"},
        {"code": "({ a: 1, b: 'x' })", "result": "{ a: 1, b: 'x' }"},
    ]

    code_display_data = [
        {"code": 'import { display, html } from "safesail/kernel"; display(html("<b>bold</b>"))', "mime": "text/html"},
        {"code": 'import { display } from "safesail/kernel"; display({ "image/svg+xml": "<svg/>" }, { raw: true })', "mime": "image/svg+xml"},
        {"code": 'import { getKernel } from "safesail/kernel"; getKernel().display.display({ "text/markdown": "# hi" })', "mime": "text/markdown"},
    ]

    # Matches "6 * 7" of code_execute_result (and nothing else there).
    code_history_pattern = "6 ? 7"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "Math.max"

    code_clear_output = 'import { clearOutput } from "safesail/kernel"; clearOutput()'


if __name__ == "__main__":
    unittest.main()
