import { describe, expect, test } from "bun:test";
import { parseExposition } from "./prom-text.ts";

const PAGE = `# HELP req_total Counter of HTTP requests
# TYPE req_total counter
req_total{handler="/cni",code="200",method="post"} 3
req_total{handler="/cni",code="400",method="post"} 1
# TYPE dur_seconds histogram
dur_seconds_bucket{le="0.1",command="ADD"} 1
dur_seconds_bucket{le="+Inf",command="ADD"} 2
dur_seconds_sum{command="ADD"} 0.35
dur_seconds_count{command="ADD"} 2
# a plain comment
odd{msg="a \\"quoted\\" \\\\ back\\nslash"} NaN 1700000000000
up 1
`;

describe("parseExposition", () => {
  test("families, types, labels with escapes, histogram parts under their family", () => {
    const page = parseExposition(PAGE);
    expect(page.families.get("req_total")?.type).toBe("counter");
    expect(page.families.get("req_total")?.help).toBe("Counter of HTTP requests");
    expect(page.value("req_total", { handler: "/cni", code: "400", method: "post" })).toBe(1);
    expect(page.value("req_total", { handler: "/cni", code: "400" })).toBeUndefined();
    expect(page.sum("req_total", { handler: "/cni" })).toBe(4);
    expect(page.samples("dur_seconds").map((s) => s.name)).toEqual([
      "dur_seconds_bucket",
      "dur_seconds_bucket",
      "dur_seconds_sum",
      "dur_seconds_count",
    ]);
    expect(page.value("dur_seconds_bucket", { le: "+Inf", command: "ADD" })).toBe(2);
    expect(page.samples("odd")[0]?.labels.msg).toBe('a "quoted" \\ back\nslash');
    expect(page.value("odd", { msg: 'a "quoted" \\ back\nslash' })).toBeNaN();
    expect(page.value("up")).toBe(1);
  });

  for (const bad of ['x{a="1"', "x{a=1} 2", "x 1 2 3", "x{} abc", 'x{a="\\q"} 1', "# TYPE x bogus", '{a="1"} 1']) {
    test(`refuses ${JSON.stringify(bad)}`, () => {
      expect(() => parseExposition(bad)).toThrow(/line 1 of the exposition/);
    });
  }
});
