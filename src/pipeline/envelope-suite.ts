/**
 * The envelope suite a sealed record's header names (docs/SPEC.md §2): after the Confluent frame
 * (magic byte 0, 4-byte schema id) the header starts with `version` and `suite`, Avro longs that are
 * one zig-zag byte each in envelope version 1 (0x02 = 1, 0x04 = 2). Read in the clear before anything
 * is verified; the suite is part of the signed header, so a record that opens is of the suite read
 * here. Undefined when the bytes do not have that form (the opener refuses such a record itself).
 */
export function envelopeSuiteOf(value: Uint8Array | null): 1 | 2 | undefined {
  if (value === null || value.length < 7 || value[0] !== 0 || value[5] !== 0x02) return undefined;
  const suite = value[6];
  return suite === 0x02 ? 1 : suite === 0x04 ? 2 : undefined;
}
