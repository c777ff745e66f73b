// The leak scan of the reliability suite, pure (no I/O): finds the broker password and the
// suite's student and employee names and emails in text the library produced.

/**
 * The prefix of every student and employee name and email the suite sends (and of the poison
 * messages' student data): a token no library text contains by chance, so any hit is a leak.
 */
export const PII_PREFIX = 'qzvx';

/** Where the scan found a secret: the file, what it found, and a few characters around it. */
export interface LeakHit {
  file: string;
  what: 'password' | 'student or employee data';
  excerpt: string;
}

/** Scans text for every given literal (a password) and any token with {@link PII_PREFIX}, in any case. */
export function scanText(text: string, passwords: readonly string[], file = '(text)'): LeakHit[] {
  const hits: LeakHit[] = [];
  for (const secret of passwords) {
    if (secret === '') continue;
    for (let i = text.indexOf(secret); i >= 0; i = text.indexOf(secret, i + 1)) {
      hits.push({ file, what: 'password', excerpt: text.slice(Math.max(0, i - 40), i + secret.length + 40) });
    }
  }
  const lower = text.toLowerCase();
  for (let i = lower.indexOf(PII_PREFIX); i >= 0; i = lower.indexOf(PII_PREFIX, i + 1)) {
    hits.push({ file, what: 'student or employee data', excerpt: text.slice(Math.max(0, i - 40), i + 60) });
  }
  return hits;
}
