import assert from "node:assert/strict";
import { convert, formatAmount, parseAmount, parseRate } from "../../../relayer/core/amount.ts";

describe("amounts", () => {
  it("parses human amounts into base units exactly", () => {
    assert.equal(parseAmount("100", 2), 10000n);
    assert.equal(parseAmount("12.34", 2), 1234n);
    assert.equal(parseAmount("0.000000000000000001", 18), 1n);
  });

  it("refuses excess precision, signs, exponents and zero instead of rounding", () => {
    assert.throws(() => parseAmount("1.234", 2), /has 3 decimals but the asset has only 2/);
    assert.throws(() => parseAmount("-1", 2), /not a positive decimal/);
    assert.throws(() => parseAmount("1e3", 2), /not a positive decimal/);
    assert.throws(() => parseAmount("0", 2), /greater than zero/);
    assert.throws(() => parseAmount("abc", 2), /not a positive decimal/);
  });

  it("formats base units back without exponent notation", () => {
    assert.equal(formatAmount(1234n, 2), "12.34");
    assert.equal(formatAmount(10000n, 2), "100");
    assert.equal(formatAmount(1n, 18), "0.000000000000000001");
  });

  it("converts across decimals at a rate, rounding down", () => {
    // 1000 ISTH (18 decimals) at 0.001 ETH/ISTH = 1 ETH (18 decimals)
    assert.equal(convert(1000n * 10n ** 18n, 18, 18, parseRate("0.001")), 10n ** 18n);
    // 1.00 KRW (2 decimals) at 1 = 1.00 KRWT (2 decimals)
    assert.equal(convert(100n, 2, 2, parseRate("1")), 100n);
    // 0.01 KRW at 0.5 -> 0.005 KRWT, below one base unit: rounds down to 0
    assert.equal(convert(1n, 2, 2, parseRate("0.5")), 0n);
  });
});
