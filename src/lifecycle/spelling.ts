/** How close a mistyped word is to a known one: what "did you mean" suggestions are made of. */

/** Edits (insert, delete, replace, swap two neighbours) that turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The edits from `typed` to `word` if it is close (1 for short words, 2 otherwise, or a prefix), else null. */
export function closeWord(typed: string, word: string): number | null {
  const distance = editDistance(typed, word);
  if (distance <= (word.length <= 4 ? 1 : 2)) return distance;
  return typed.length >= 3 && word.startsWith(typed) ? word.length - typed.length : null;
}

/** At most three of `known` close to `typed`, closest first. */
export function closeNames(typed: string, known: readonly string[]): string[] {
  const scored = known.flatMap((word) => {
    const distance = closeWord(typed.toLowerCase(), word.toLowerCase());
    return distance === null ? [] : [{ word, distance }];
  });
  return scored.sort((a, b) => a.distance - b.distance).slice(0, 3).map(({ word }) => word);
}
