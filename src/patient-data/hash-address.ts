import { randomBytes, scryptSync } from 'node:crypto';

/**
 * The erased patient's number as the audit keeps it: scrypt with a salt of its own, so that the audit
 * can show a given number was erased (verifyAddressHash) without holding the number, and a phone
 * number's small space cannot be searched cheaply from the hash.
 */
export function hashAddress(phoneNumber: string, salt = randomBytes(16)): string {
  return `scrypt:${salt.toString('hex')}:${scryptSync(phoneNumber, salt, 32).toString('hex')}`;
}

export function verifyAddressHash(phoneNumber: string, hash: string): boolean {
  const [kind, salt] = hash.split(':');
  return kind === 'scrypt' && salt !== undefined && hashAddress(phoneNumber, Buffer.from(salt, 'hex')) === hash;
}
