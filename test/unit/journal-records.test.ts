import { describe, expect, it } from 'vitest';

import { decodeRecords, encodeRecords } from '../../src/intake/journal-records.ts';

const records = [
  { v: 1, message: { body: 'What is IVF?' } },
  { v: 1, message: { body: 'Dolor abdominal fuerte 😟 desde ayer' } },
  { v: 1, message: { body: 'And egg retrieval?' } },
];

describe('journal records', () => {
  it('when records are encoded and read back, then they come back whole and in order', () => {
    expect(decodeRecords(encodeRecords(records))).toEqual({ records, tornBytes: 0 });
    expect(decodeRecords(Buffer.concat([encodeRecords(records.slice(0, 1)), encodeRecords(records.slice(1))]))).toEqual({ records, tornBytes: 0 });
  });

  it('when the last record is cut short at any byte, then the ones before it are read and the rest is reported torn', () => {
    const whole = encodeRecords(records);
    const lastStarts = encodeRecords(records.slice(0, 2)).length;
    for (let cut = lastStarts + 1; cut < whole.length; cut++) {
      expect(decodeRecords(whole.subarray(0, cut))).toEqual({ records: records.slice(0, 2), tornBytes: cut - lastStarts });
    }
  });

  it('when a byte of the last record is damaged, then its checksum fails and it is not read as another message', () => {
    const whole = encodeRecords(records);
    const damaged = Buffer.from(whole);
    // "And egg retrieval?" → "And egg retrieval!": still valid JSON, only the checksum tells.
    damaged[damaged.lastIndexOf('?')] = '!'.charCodeAt(0);
    const lastStarts = encodeRecords(records.slice(0, 2)).length;
    expect(decodeRecords(damaged)).toEqual({ records: records.slice(0, 2), tornBytes: whole.length - lastStarts });
  });

  it('when the file ends in zeros (extended, its data never written), then the zeros are reported torn', () => {
    const whole = Buffer.concat([encodeRecords(records), Buffer.alloc(300)]);
    expect(decodeRecords(whole)).toEqual({ records, tornBytes: 300 });
  });
});
