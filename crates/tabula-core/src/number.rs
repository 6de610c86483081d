//! Exact decimal numbers with DynamoDB's limits: up to 38 significant digits, magnitude from
//! 1E-130 up to (but excluding) 1E+126. No floating point anywhere: a number is a sign, a list
//! of decimal digits and a power of ten, and arithmetic is done digit by digit.
//!
//! Neighbours: `value` holds numbers inside attribute values; `keyenc` turns them into
//! order-preserving bytes; `expr` adds and subtracts them (SET a = a + :v, ADD).

use std::cmp::Ordering;
use std::fmt;

/// Most significant digits a DynamoDB number may carry.
pub const MAX_DIGITS: usize = 38;
/// Largest decimal exponent (of the leading digit) DynamoDB stores: 9.99..E+125.
pub const MAX_EXP: i32 = 125;
/// Smallest decimal exponent (of the leading digit) DynamoDB stores: 1E-130.
pub const MIN_EXP: i32 = -130;

/// Why a string is not a DynamoDB number. The messages are DynamoDB's own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("A value provided cannot be converted into a number")]
    NotANumber,
    #[error("Attempting to store more than 38 significant digits in a Number")]
    TooManyDigits,
    #[error(
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    )]
    Overflow,
    #[error(
        "Number underflow. Attempting to store a number with magnitude smaller than supported range"
    )]
    Underflow,
}

/// An exact decimal: `(-1)^negative × d1.d2d3…dn × 10^exponent`.
///
/// Invariants: `digits` holds values 0..=9 with no leading and no trailing zeros; zero is the
/// empty digit list with `negative == false` and `exponent == 0`. Two equal numbers therefore
/// have equal fields, so the derived `Eq`/`Hash` are value equality ("1.0" equals "1").
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Number {
    negative: bool,
    digits: Vec<u8>,
    exponent: i32,
}

impl Number {
    pub fn zero() -> Number {
        Number {
            negative: false,
            digits: Vec::new(),
            exponent: 0,
        }
    }

    /// Parses DynamoDB's number syntax: optional sign, digits with an optional decimal point,
    /// optional `e`/`E` exponent. Leading and trailing zeros are not significant; whitespace
    /// is not allowed anywhere.
    pub fn parse(text: &str) -> Result<Number, NumberError> {
        let s = text;
        let bytes = s.as_bytes();
        let mut i = 0;
        let mut negative = false;
        if i < bytes.len() && (bytes[i] == b'-' || bytes[i] == b'+') {
            negative = bytes[i] == b'-';
            i += 1;
        }
        let mut all = Vec::with_capacity(bytes.len());
        let mut point = None;
        let mut saw_digit = false;
        while i < bytes.len() {
            match bytes[i] {
                b'0'..=b'9' => {
                    all.push(bytes[i] - b'0');
                    saw_digit = true;
                }
                b'.' if point.is_none() => point = Some(all.len()),
                _ => break,
            }
            i += 1;
        }
        if !saw_digit {
            return Err(NumberError::NotANumber);
        }
        let mut exp_value: i64 = 0;
        if i < bytes.len() {
            if bytes[i] != b'e' && bytes[i] != b'E' {
                return Err(NumberError::NotANumber);
            }
            i += 1;
            let mut exp_negative = false;
            if i < bytes.len() && (bytes[i] == b'-' || bytes[i] == b'+') {
                exp_negative = bytes[i] == b'-';
                i += 1;
            }
            if i >= bytes.len() {
                return Err(NumberError::NotANumber);
            }
            while i < bytes.len() {
                let b = bytes[i];
                if !b.is_ascii_digit() {
                    return Err(NumberError::NotANumber);
                }
                exp_value = (exp_value * 10 + i64::from(b - b'0')).min(1_000_000);
                i += 1;
            }
            if exp_negative {
                exp_value = -exp_value;
            }
        }
        let point = point.unwrap_or(all.len()) as i64;
        Self::from_parts(negative, all, point - 1 + exp_value)
    }

    /// Builds a number from raw digits (0..=9, zeros allowed anywhere) whose first digit sits at
    /// decimal exponent `exponent`, then normalises and checks DynamoDB's limits.
    fn from_parts(negative: bool, digits: Vec<u8>, exponent: i64) -> Result<Number, NumberError> {
        let Some(first) = digits.iter().position(|d| *d != 0) else {
            return Ok(Number::zero());
        };
        let last = digits.iter().rposition(|d| *d != 0).unwrap_or(first);
        let exponent = exponent - first as i64;
        let digits = digits[first..=last].to_vec();
        if exponent > i64::from(MAX_EXP) {
            return Err(NumberError::Overflow);
        }
        if exponent < i64::from(MIN_EXP) {
            return Err(NumberError::Underflow);
        }
        if digits.len() > MAX_DIGITS {
            return Err(NumberError::TooManyDigits);
        }
        Ok(Number {
            negative,
            digits,
            exponent: exponent as i32,
        })
    }

    pub fn from_i64(v: i64) -> Number {
        // An i64 has at most 19 digits, well inside every limit.
        Number::parse(&v.to_string()).unwrap_or_else(|_| Number::zero())
    }

    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// The significant digits (0..=9), most significant first; empty for zero.
    pub fn digits(&self) -> &[u8] {
        &self.digits
    }

    /// Decimal exponent of the leading digit.
    pub fn exponent(&self) -> i32 {
        self.exponent
    }

    /// Rebuilds a number from the fields returned by `digits`/`exponent`/`is_negative`
    /// (used by the key decoder); checks the invariants.
    pub fn from_normalized(
        negative: bool,
        digits: Vec<u8>,
        exponent: i32,
    ) -> Result<Number, NumberError> {
        if digits.iter().any(|d| *d > 9) {
            return Err(NumberError::NotANumber);
        }
        let n = Self::from_parts(negative, digits, i64::from(exponent))?;
        Ok(n)
    }

    /// The integer value when this number is a whole number that fits in an i64.
    pub fn to_i64(&self) -> Option<i64> {
        if self.is_zero() {
            return Some(0);
        }
        if self.exponent < 0 || self.exponent > 18 || self.digits.len() as i32 > self.exponent + 1 {
            return None;
        }
        let mut v: i64 = 0;
        for idx in 0..=self.exponent as usize {
            let d = self.digits.get(idx).copied().unwrap_or(0);
            v = v.checked_mul(10)?.checked_add(i64::from(d))?;
        }
        Some(if self.negative { -v } else { v })
    }

    /// Exact sum; fails like DynamoDB when the result leaves the supported range or precision.
    pub fn add(&self, other: &Number) -> Result<Number, NumberError> {
        if self.is_zero() {
            return Ok(other.clone());
        }
        if other.is_zero() {
            return Ok(self.clone());
        }
        // Align both coefficients on the lowest digit position.
        let low = self.lowest_position().min(other.lowest_position());
        let high = self.exponent.max(other.exponent) + 1; // room for a carry
        let a = self.aligned(low, high);
        let b = other.aligned(low, high);
        let (negative, digits) = if self.negative == other.negative {
            (self.negative, add_magnitudes(&a, &b))
        } else {
            match cmp_magnitudes(&a, &b) {
                Ordering::Equal => return Ok(Number::zero()),
                Ordering::Greater => (self.negative, sub_magnitudes(&a, &b)),
                Ordering::Less => (other.negative, sub_magnitudes(&b, &a)),
            }
        };
        Self::from_parts(negative, digits, i64::from(high))
    }

    pub fn neg(&self) -> Number {
        if self.is_zero() {
            return self.clone();
        }
        Number {
            negative: !self.negative,
            ..self.clone()
        }
    }

    pub fn sub(&self, other: &Number) -> Result<Number, NumberError> {
        self.add(&other.neg())
    }

    /// Decimal position of the last significant digit.
    fn lowest_position(&self) -> i32 {
        self.exponent - (self.digits.len() as i32 - 1)
    }

    /// Digits from position `high` down to `low` (inclusive), most significant first.
    fn aligned(&self, low: i32, high: i32) -> Vec<u8> {
        (low..=high)
            .rev()
            .map(|pos| {
                let idx = self.exponent - pos;
                if idx < 0 {
                    0
                } else {
                    self.digits.get(idx as usize).copied().unwrap_or(0)
                }
            })
            .collect()
    }

    /// Storage size as DynamoDB counts it: the significant digits in base-100 groups aligned
    /// on the decimal point (so `15` is one group, `1.5` two), one byte per group, plus one
    /// byte, plus one more for a negative number. Zero is one byte.
    pub fn size(&self) -> usize {
        if self.digits.is_empty() {
            return 1;
        }
        // Digit i stands for 10^(exponent - i); its group is floor(power / 2).
        let first = i64::from(self.exponent).div_euclid(2);
        let last = (i64::from(self.exponent) - self.digits.len() as i64 + 1).div_euclid(2);
        (first - last + 1) as usize + 1 + usize::from(self.negative)
    }
}

fn add_magnitudes(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut carry = 0;
    for i in (0..a.len()).rev() {
        let s = a[i] + b[i] + carry;
        out[i] = s % 10;
        carry = s / 10;
    }
    out
}

/// a - b where |a| >= |b|.
fn sub_magnitudes(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut borrow = 0i8;
    for i in (0..a.len()).rev() {
        let mut d = a[i] as i8 - b[i] as i8 - borrow;
        borrow = 0;
        if d < 0 {
            d += 10;
            borrow = 1;
        }
        out[i] = d as u8;
    }
    out
}

fn cmp_magnitudes(a: &[u8], b: &[u8]) -> Ordering {
    a.cmp(b)
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        fn class(n: &Number) -> i8 {
            if n.is_zero() {
                0
            } else if n.negative {
                -1
            } else {
                1
            }
        }
        let (ca, cb) = (class(self), class(other));
        if ca != cb || ca == 0 {
            return ca.cmp(&cb);
        }
        let magnitude = self
            .exponent
            .cmp(&other.exponent)
            .then_with(|| self.digits.cmp(&other.digits));
        if self.negative {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Plain decimal notation, as DynamoDB returns numbers: no exponent, no needless zeros.
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let mut s = String::with_capacity(self.digits.len() + 8);
        if self.negative {
            s.push('-');
        }
        let digit = |d: &u8| char::from(b'0' + d);
        if self.exponent >= 0 {
            let int_len = self.exponent as usize + 1;
            for idx in 0..int_len {
                s.push(self.digits.get(idx).map(digit).unwrap_or('0'));
            }
            if self.digits.len() > int_len {
                s.push('.');
                s.extend(self.digits[int_len..].iter().map(digit));
            }
        } else {
            s.push_str("0.");
            for _ in 0..(-self.exponent - 1) {
                s.push('0');
            }
            s.extend(self.digits.iter().map(digit));
        }
        f.write_str(&s)
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "N({self})")
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn size_counts_base_100_groups_aligned_on_the_decimal_point() {
        let size = |t: &str| Number::parse(t).unwrap().size();
        assert_eq!(size("0"), 1);
        assert_eq!(size("1"), 2);
        assert_eq!(size("15"), 2);
        assert_eq!(size("150"), 3);
        assert_eq!(size("0.001"), 2);
        assert_eq!(size("1.5"), 3);
        assert_eq!(size("-1"), 3);
        assert_eq!(size("-12.500"), 4);
        assert_eq!(size("123456"), 4);
    }

    use super::*;

    fn n(s: &str) -> Number {
        Number::parse(s).expect(s)
    }

    #[test]
    fn parse_normalises_to_plain_notation() {
        for (input, out) in [
            ("0", "0"),
            ("-0", "0"),
            ("000.000", "0"),
            ("1", "1"),
            ("1.000", "1"),
            ("0010.50", "10.5"),
            ("1e3", "1000"),
            ("1E+3", "1000"),
            ("-1.5e-3", "-0.0015"),
            (".5", "0.5"),
            ("5.", "5"),
            ("+7", "7"),
            (
                "123456789012345678901234567890.12345678",
                "123456789012345678901234567890.12345678",
            ),
        ] {
            assert_eq!(n(input).to_string(), out, "{input}");
        }
    }

    #[test]
    fn parse_rejects_what_dynamodb_rejects() {
        for bad in [
            "", "-", ".", "e5", "1e", "1x", "1.2.3", "NaN", "Infinity", "0x10", "1e+", " 1", "1 ",
            "\t1", "1\n", "1 e5",
        ] {
            assert_eq!(Number::parse(bad), Err(NumberError::NotANumber), "{bad:?}");
        }
        assert_eq!(
            Number::parse("1234567890123456789012345678901234567891"),
            Err(NumberError::TooManyDigits)
        );
        assert_eq!(Number::parse("1e126"), Err(NumberError::Overflow));
        assert_eq!(Number::parse("1e-131"), Err(NumberError::Underflow));
        assert!(Number::parse("9.9999999999999999999999999999999999999e125").is_ok());
        assert!(Number::parse("1e-130").is_ok());
        // 38 digits plus trailing zeros is fine: zeros are not significant.
        assert!(Number::parse("12345678901234567890123456789012345678000").is_ok());
    }

    #[test]
    fn ordering_is_numeric() {
        let mut v: Vec<Number> = [
            "10", "-1", "0", "2", "-10.5", "0.001", "1e20", "-1e-20", "1.5",
        ]
        .iter()
        .map(|s| n(s))
        .collect();
        v.sort();
        let s: Vec<String> = v.iter().map(|x| x.to_string()).collect();
        assert_eq!(
            s,
            [
                "-10.5",
                "-1",
                "-0.00000000000000000001",
                "0",
                "0.001",
                "1.5",
                "2",
                "10",
                "100000000000000000000"
            ]
        );
        assert_eq!(n("1.0"), n("1"));
    }

    #[test]
    fn addition_is_exact() {
        assert_eq!(n("0.1").add(&n("0.2")).unwrap().to_string(), "0.3");
        assert_eq!(n("99").add(&n("1")).unwrap().to_string(), "100");
        assert_eq!(n("5").sub(&n("7")).unwrap().to_string(), "-2");
        assert_eq!(n("-5").add(&n("5")).unwrap().to_string(), "0");
        assert_eq!(
            n("1e20").add(&n("1e-10")).unwrap().to_string(),
            "100000000000000000000.0000000001"
        );
        assert_eq!(n("1e30").add(&n("1e-10")), Err(NumberError::TooManyDigits));
        assert_eq!(
            n("9.9999999999999999999999999999999999999e125").add(&n("1e125")),
            Err(NumberError::Overflow)
        );
        assert_eq!(n("12").to_i64(), Some(12));
        assert_eq!(n("-1200").to_i64(), Some(-1200));
        assert_eq!(n("1.5").to_i64(), None);
    }
}
