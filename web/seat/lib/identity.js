// What the candidate types in step 1: an 18-character resident ID number
// (17 digits and a check character, ISO 7064 MOD 11-2, X for 10) or a
// booking number (digits only). The server has the last word on both.

export const ID_NUMBER_LENGTH = 18;
/** Booking numbers are all digits, this many of them (not 17 or 18, which are ID numbers). */
export const BOOKING_LENGTHS = { min: 6, max: 16 };

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/** The check character for the first 17 digits of an ID number. */
export function checkCharacter(first17) {
  const sum = [...first17].reduce((acc, digit, i) => acc + Number(digit) * WEIGHTS[i], 0);
  return "10X98765432"[sum % 11];
}

/**
 * Keep only what may stand in the field: digits, and X only as the 18th
 * character (a lower-case x becomes X). Anything else typed is dropped.
 */
export function sanitize(text) {
  let out = "";
  for (const ch of text.toUpperCase()) {
    if (out.length >= ID_NUMBER_LENGTH) break;
    if (ch >= "0" && ch <= "9") out += ch;
    else if (ch === "X" && out.length === ID_NUMBER_LENGTH - 1) out += ch;
  }
  return out;
}

/**
 * What the field holds: `{kind: "id_number" | "booking_number", value}`, or
 * null when it is neither (wrong length, bad check character).
 */
export function parseIdentity(text) {
  const value = sanitize(text);
  if (value !== text.toUpperCase()) return null;
  if (value.length === ID_NUMBER_LENGTH) {
    return /^\d{17}[\dX]$/.test(value) && checkCharacter(value.slice(0, 17)) === value[17]
      ? { kind: "id_number", value }
      : null;
  }
  if (/^\d+$/.test(value) && value.length >= BOOKING_LENGTHS.min && value.length <= BOOKING_LENGTHS.max) {
    return { kind: "booking_number", value };
  }
  return null;
}
