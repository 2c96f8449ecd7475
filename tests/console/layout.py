"""What a reader would see as broken layout, measured in the browser: text that overflows its
box, a box that runs past the right edge, a table wider than its page, a chart label cut or
covering another. Every page the browser tests visit is checked (`assert_fits`)."""

from __future__ import annotations

# Returns one sentence per problem. An element "overflows" when its content is wider (or
# taller, where it clips) than its box: scrollWidth > clientWidth. Form controls measure
# their own insides, and inline boxes have no width of their own, so both are left out;
# elements inside closed <details> or otherwise not rendered have no box.
_PROBLEMS = r"""
const slack = 1;
const phone = arguments[0];  // on a phone a wide table may scroll inside its .scroll box
const problems = [];
const name = (el) => {
  const text = (el.innerText || el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 60);
  const cls = el.classList.length ? "." + [...el.classList].join(".") : "";
  return `<${el.tagName.toLowerCase()}${cls}> "${text}"`;
};
const root = document.documentElement;
if (root.scrollWidth > root.clientWidth + slack) {
  problems.push(`the page is ${root.scrollWidth}px wide in a ${root.clientWidth}px window`);
}
const skip = new Set(["INPUT", "SELECT", "TEXTAREA", "OPTION", "BUTTON", "svg", "SCRIPT", "BR"]);
for (const el of document.querySelectorAll("body *")) {
  // Screen-reader text is a 1px box on purpose.
  if (skip.has(el.tagName) || el.closest("svg") || el.closest(".sr")) continue;
  if (phone && el.parentElement && el.parentElement.closest(".scroll")) continue;
  const style = getComputedStyle(el);
  if (style.display === "inline" || style.display === "none" || !el.getClientRects().length) continue;
  const scrolls = phone && el.classList.contains("scroll");
  if (!scrolls && el.scrollWidth > el.clientWidth + slack) {
    problems.push(`${name(el)} overflows its box: ${el.scrollWidth}px of content in ${el.clientWidth}px`);
  }
  const clips = style.overflowY !== "visible" || style.textOverflow === "ellipsis";
  if (clips && el.scrollHeight > el.clientHeight + slack && el.tagName !== "HTML" && el.tagName !== "BODY") {
    problems.push(`${name(el)} is cut: ${el.scrollHeight}px of content in ${el.clientHeight}px`);
  }
  const box = el.getBoundingClientRect();
  if (box.right > root.clientWidth + slack) {
    problems.push(`${name(el)} runs past the right edge: ${Math.round(box.right)} > ${root.clientWidth}`);
  }
}
// Chart words: inside their chart, one beside the other, never on top of each other.
for (const chart of document.querySelectorAll("figure.chart")) {
  const frame = chart.getBoundingClientRect();
  const words = [...chart.querySelectorAll(".y-axis span, .x-axis span, text")]
    .map((el) => [el, el.getBoundingClientRect()]);
  for (const [el, r] of words) {
    if (r.left < frame.left - slack || r.right > frame.right + slack || r.top < frame.top - slack
        || r.bottom > frame.bottom + slack) {
      problems.push(`chart label ${name(el)} is cut by its chart`);
    }
  }
  for (let i = 0; i < words.length; i++) {
    for (let j = i + 1; j < words.length; j++) {
      const [a, ra] = words[i], [b, rb] = words[j];
      if (ra.left < rb.right - slack && rb.left < ra.right - slack
          && ra.top < rb.bottom - slack && rb.top < ra.bottom - slack) {
        problems.push(`chart labels ${name(a)} and ${name(b)} overlap`);
      }
    }
  }
}
return problems;
"""


def layout_problems(driver, phone: bool = False) -> list[str]:
    return driver.execute_script(_PROBLEMS, phone)


def assert_fits(driver, page: str, phone: bool = False) -> None:
    """No text overflows its box and no label is cut on the page the driver shows; on a
    `phone`, a wide table may scroll sideways inside its own box, the page may not."""
    problems = layout_problems(driver, phone)
    width = driver.execute_script("return document.documentElement.clientWidth")
    assert not problems, f"{page} at {width}px:\n" + "\n".join(problems[:20])
