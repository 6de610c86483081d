//! Splits expression text into tokens. Every character becomes part of some token: characters
//! the grammar does not know become `Unknown` tokens, so the parser reports them as DynamoDB
//! does ("Syntax error; token: \"$\", ...") at the point where it meets them.

/// Words that are part of the grammar. They are never attribute names, in any expression kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keyword {
    And,
    Or,
    Not,
    Between,
    In,
    Set,
    Remove,
    Add,
    Delete,
}

impl Keyword {
    fn parse(word: &str) -> Option<Keyword> {
        const ALL: [(&str, Keyword); 9] = [
            ("AND", Keyword::And),
            ("OR", Keyword::Or),
            ("NOT", Keyword::Not),
            ("BETWEEN", Keyword::Between),
            ("IN", Keyword::In),
            ("SET", Keyword::Set),
            ("REMOVE", Keyword::Remove),
            ("ADD", Keyword::Add),
            ("DELETE", Keyword::Delete),
        ];
        ALL.iter()
            .find(|(text, _)| text.eq_ignore_ascii_case(word))
            .map(|(_, kw)| *kw)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A bare attribute or function name: `[A-Za-z][A-Za-z0-9_]*`.
    Ident,
    /// An expression attribute name: `#[A-Za-z0-9_]+`.
    Name,
    /// An expression attribute value: `:[A-Za-z0-9_]+`.
    Value,
    /// A list index: `0` or `[1-9][0-9]*`.
    Number,
    Keyword(Keyword),
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Plus,
    Minus,
    /// One character the grammar does not know.
    Unknown,
    Eof,
}

/// A token and where it sits in the text (byte offsets, `end` exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

fn is_word_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Tokenizes `text`; the last token is always `Eof`.
pub(crate) fn tokenize(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
            continue;
        }
        let start = i;
        let kind = match c {
            b'a'..=b'z' | b'A'..=b'Z' => {
                while i < bytes.len() && is_word_char(bytes[i]) {
                    i += 1;
                }
                match Keyword::parse(&text[start..i]) {
                    Some(kw) => TokenKind::Keyword(kw),
                    None => TokenKind::Ident,
                }
            }
            b'#' | b':' => {
                i += 1;
                let body = i;
                while i < bytes.len() && is_word_char(bytes[i]) {
                    i += 1;
                }
                if i == body {
                    TokenKind::Unknown
                } else if c == b'#' {
                    TokenKind::Name
                } else {
                    TokenKind::Value
                }
            }
            b'0' => {
                i += 1;
                TokenKind::Number
            }
            b'1'..=b'9' => {
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                TokenKind::Number
            }
            b'<' => {
                i += 1;
                match bytes.get(i) {
                    Some(b'=') => {
                        i += 1;
                        TokenKind::Le
                    }
                    Some(b'>') => {
                        i += 1;
                        TokenKind::Ne
                    }
                    _ => TokenKind::Lt,
                }
            }
            b'>' => {
                i += 1;
                if bytes.get(i) == Some(&b'=') {
                    i += 1;
                    TokenKind::Ge
                } else {
                    TokenKind::Gt
                }
            }
            _ => {
                i += 1;
                match c {
                    b'=' => TokenKind::Eq,
                    b'(' => TokenKind::LParen,
                    b')' => TokenKind::RParen,
                    b'[' => TokenKind::LBracket,
                    b']' => TokenKind::RBracket,
                    b',' => TokenKind::Comma,
                    b'.' => TokenKind::Dot,
                    b'+' => TokenKind::Plus,
                    b'-' => TokenKind::Minus,
                    _ => {
                        // One whole character, however many bytes it takes.
                        while i < bytes.len() && !text.is_char_boundary(i) {
                            i += 1;
                        }
                        TokenKind::Unknown
                    }
                }
            }
        };
        tokens.push(Token {
            kind,
            start,
            end: i,
        });
    }
    tokens.push(Token {
        kind: TokenKind::Eof,
        start: bytes.len(),
        end: bytes.len(),
    });
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        tokenize(text).into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn lexer_splits_operators_names_values_and_indexes() {
        use TokenKind::*;
        assert_eq!(
            kinds("a.b[10] <> :v AND #n<=:w"),
            vec![
                Ident,
                Dot,
                Ident,
                LBracket,
                Number,
                RBracket,
                Ne,
                Value,
                Keyword(super::Keyword::And),
                Name,
                Le,
                Value,
                Eof
            ]
        );
    }

    #[test]
    fn lexer_makes_unknown_tokens_of_stray_characters() {
        use TokenKind::*;
        assert_eq!(kinds("_a"), vec![Unknown, Ident, Eof]);
        assert_eq!(kinds("# :"), vec![Unknown, Unknown, Eof]);
        assert_eq!(kinds("é"), vec![Unknown, Eof]);
        assert_eq!(kinds("01"), vec![Number, Number, Eof]);
    }
}
