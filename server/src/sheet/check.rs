//! The check character printed beside a key field of the score sheet: ISO 7064
//! MOD 11-2, computed by the ID card's own implementation
//! ([`examgate_device_sdk::idcard::id_check_char`]), so the sheet and the
//! ID number agree on one algorithm.
//!
//! A field is first written as digits: a digit stays, a letter is its value
//! 10 (A) to 35 (Z) in two digits (as ISO 7064's alphanumeric conversion does,
//! case ignored), anything else (`-`, spaces) is left out. The ID card's
//! function weighs 17 digits by powers of two modulo 11; a shorter run is
//! padded with leading zeros (which add nothing), and a longer one is taken in
//! runs of 17 whose weighted sums are joined (each earlier run weighs
//! 2^17 ≡ 7 modulo 11 more per later run).
//!
//! ```
//! use examgate_server::sheet::check::check_char;
//! // The ID number's own check character is the one over its first 17 digits.
//! assert_eq!(check_char("11010519491231002"), 'X');
//! assert_eq!(check_char("87"), check_char("0087"));
//! ```

use examgate_device_sdk::idcard::id_check_char;

/// The characters a check value 0..=10 is written as (value 10 is `X`).
fn char_of(value: u32) -> char {
    if value == 10 { 'X' } else { char::from_digit(value, 10).unwrap_or('?') }
}

/// The weighted sum modulo 11 of at most 17 digits, from the ID card's function.
fn run_sum(run: &str) -> u32 {
    let padded = format!("{run:0>17}");
    let check = id_check_char(&padded).unwrap_or('?');
    // The card's function writes the check as "10X98765432"[sum % 11]:
    // its value v is (12 - sum) mod 11, so sum = (12 - v) mod 11.
    let value = if check == 'X' { 10 } else { check.to_digit(10).unwrap_or(0) };
    (12 - value) % 11
}

/// The field written as digits (see the module's documentation).
pub fn digits(field: &str) -> String {
    let mut out = String::new();
    for c in field.chars() {
        if c.is_ascii_digit() {
            out.push(c);
        } else if c.is_ascii_alphabetic() {
            out.push_str(&(c.to_ascii_uppercase() as u32 - 'A' as u32 + 10).to_string());
        }
    }
    out
}

/// The ISO 7064 MOD 11-2 check character of a field.
pub fn check_char(field: &str) -> char {
    let digits = digits(field);
    let mut sum = 0u32;
    let bytes = digits.as_bytes();
    // Runs of 17 from the end, so every digit keeps its weight 2^(distance from the end + 1).
    let mut end = bytes.len();
    let mut shift = 1u32; // 2^(17 * runs so far) mod 11
    while end > 0 {
        let start = end.saturating_sub(17);
        let run = std::str::from_utf8(&bytes[start..end]).unwrap_or("0");
        sum = (sum + run_sum(run) * shift) % 11;
        shift = shift * 7 % 11;
        end = start;
    }
    char_of((12 - sum) % 11)
}

/// A field with its check character, as printed: `VALUE [C]`.
pub fn with_check(field: &str) -> String {
    format!("{field} [{}]", check_char(field))
}

#[cfg(test)]
mod tests {
    use super::*;
    use examgate_device_sdk::idcard::id_check_valid;

    /// ISO 7064 MOD 11-2 written out from the standard (pure system, radix 2),
    /// only to test the composition over the card's function.
    fn reference(digits: &str) -> char {
        let mut p = 0u32;
        for d in digits.chars() {
            p = (p + d.to_digit(10).unwrap()) * 2 % 11;
        }
        char_of((12 - p % 11) % 11)
    }

    #[test]
    fn agrees_with_the_id_card() {
        for id in ["11010519491231002X", "440524188001010014", "110105194912310029"] {
            let ok = id_check_valid(id);
            assert_eq!(check_char(&id[..17]) == id.chars().last().unwrap(), ok, "{id}");
        }
    }

    #[test]
    fn long_and_lettered_fields_follow_the_standard() {
        for field in [
            "0",
            "7",
            "87",
            "20261208-001",
            "BK-2026-12-08-0001",
            "A1b2C3d4E5f6G7h8I9j0K1",
            "123456789012345678901234567890",
        ] {
            assert_eq!(check_char(field), reference(&digits(field)), "{field}");
        }
        assert_eq!(digits("a-Z9"), "10359");
    }

    #[test]
    fn one_changed_character_changes_the_check() {
        let base = "20261208-001";
        for i in 0..base.len() {
            let c = base.as_bytes()[i];
            if !c.is_ascii_digit() {
                continue;
            }
            let mut changed = base.as_bytes().to_vec();
            changed[i] = if c == b'9' { b'0' } else { c + 1 };
            assert_ne!(check_char(std::str::from_utf8(&changed).unwrap()), check_char(base), "position {i}");
        }
    }
}
