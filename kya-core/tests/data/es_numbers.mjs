// Regenerates es_numbers.json: JSON number texts and what ECMAScript makes of them,
// `JSON.stringify(JSON.parse(text))` (RFC 8785 §3.2.2.3 defers to it). Deterministic:
// `node es_numbers.mjs > es_numbers.json`.
let state = 0x2545f4914f6cdd1dn;
const mask = (1n << 64n) - 1n;
function next() {
  state ^= (state << 13n) & mask;
  state ^= state >> 7n;
  state ^= (state << 17n) & mask;
  return state;
}
const view = new DataView(new ArrayBuffer(8));
const texts = [
  "123456789012345680000", "9007199254740992", "9007199254740993", "-9007199254740993",
  "1e20", "-0", "-0.0", "0", "5e-324", "1.7976931348623157e308", "-1.7976931348623157e308",
  "1e21", "1e-7", "0.000001", "1E16", "9007199254740993.0", "18446744073709551615",
  "18446744073709551616", "-9223372036854775808", "-9223372036854775809",
  "123456789012345678901234567890", "2874647825719444262123456789e167",
  "4.35", "0.1", "1e23", "2e-7", "100000000000000000000", "999999999999999999999",
  "295147905179352825856", "4503599627370497.5", "0.30000000000000004",
];
for (let i = 0; i < 600; i++) {
  view.setBigUint64(0, next());
  const x = view.getFloat64(0);
  if (!Number.isFinite(x)) continue;
  texts.push(String(x).replace("e+", "e"));
  texts.push(x.toExponential(24));
  if (Math.abs(x) < 1e21 && Math.abs(x) >= 1e-6) texts.push(x.toFixed(6));
}
for (let i = 0; i < 300; i++) {
  const digits = (next() % 10n ** 19n).toString() + (i % 2 ? (next() % 10n ** 6n).toString() : "");
  texts.push(digits);
  texts.push("-" + digits);
  texts.push(`${digits}e${Number(next() % 600n) - 300}`);
}
const out = texts.map((t) => [t, JSON.stringify(JSON.parse(t))]);
console.log("[\n" + out.map((p) => "  " + JSON.stringify(p)).join(",\n") + "\n]");
