//! Recursive-descent parser from tokens to raw trees (names and values not yet resolved).
//!
//! Syntax errors name the offending token and the text from the token before it to the token
//! after it, as DynamoDB does. A parenthesis directly around another parenthesised group is
//! rejected as soon as it closes ("The expression has redundant parentheses;").
//!
//! A `(` where a condition may start is ambiguous: `(a = :v)` is a condition, `(a) = :v` an
//! operand. The parser reads the group's content first and decides from what follows it, so no
//! backtracking is needed and deep nesting costs linear time.

use super::ast::CompareOp;
use super::lexer::{Keyword, Token, TokenKind, tokenize};

/// Deepest nesting of parentheses and function calls accepted; deeper input is answered with a
/// syntax error instead of risking the stack. DynamoDB's own limits (4 KB of text, 300
/// operators) keep real expressions far below this.
const MAX_DEPTH: usize = 256;

/// Why parsing stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// The token at this index does not fit the grammar.
    Syntax(usize),
    /// A finished message (without the "Invalid XExpression: " prefix).
    Message(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RawElem {
    Ident(String),
    Name(String),
    Index(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawPath(pub Vec<RawElem>);

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Plus,
    Minus,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RawOperand {
    Path(RawPath),
    Value(String),
    Call(String, Vec<RawOperand>),
    Paren(Box<RawOperand>),
    /// Only in update expressions: `x + y`, `x - y`.
    Arith(ArithOp, Box<RawOperand>, Box<RawOperand>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RawCond {
    Compare(CompareOp, RawOperand, RawOperand),
    Between(RawOperand, RawOperand, RawOperand),
    In(RawOperand, Vec<RawOperand>),
    /// A function call in condition position; holds a `RawOperand::Call`, possibly in parens.
    Call(RawOperand),
    Not(Box<RawCond>),
    And(Box<RawCond>, Box<RawCond>),
    Or(Box<RawCond>, Box<RawCond>),
    Paren(Box<RawCond>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Clause {
    Set,
    Remove,
    Add,
    Delete,
}

impl Clause {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Clause::Set => "SET",
            Clause::Remove => "REMOVE",
            Clause::Add => "ADD",
            Clause::Delete => "DELETE",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RawAction {
    Set(RawPath, RawOperand),
    Remove(RawPath),
    Add(RawPath, String),
    Delete(RawPath, String),
}

/// What a parenthesised group (or a plain operand) turned out to be.
enum Group {
    Cond(RawCond),
    Operand(RawOperand),
}

pub(crate) struct Parser<'t> {
    text: &'t str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl<'t> Parser<'t> {
    pub(crate) fn new(text: &'t str) -> Parser<'t> {
        Parser {
            text,
            tokens: tokenize(text),
            pos: 0,
            depth: 0,
        }
    }

    /// DynamoDB's text for a syntax error at token `index`.
    pub(crate) fn syntax_message(&self, index: usize) -> String {
        let Some(tok) = self.tokens.get(index) else {
            return "Syntax error; token: \"<EOF>\", near: \"\"".to_string();
        };
        let start = if index > 0 {
            self.tokens.get(index - 1).map_or(0, |t| t.start)
        } else {
            0
        };
        let end = match self.tokens.get(index + 1) {
            Some(next) if next.kind != TokenKind::Eof && tok.kind != TokenKind::Eof => next.end,
            _ => self.text.len(),
        };
        let token = if tok.kind == TokenKind::Eof {
            "<EOF>"
        } else {
            self.text.get(tok.start..tok.end).unwrap_or("")
        };
        let near = self.text.get(start..end).unwrap_or("");
        format!("Syntax error; token: \"{token}\", near: \"{near}\"")
    }

    fn kind(&self) -> TokenKind {
        self.tokens.get(self.pos).map_or(TokenKind::Eof, |t| t.kind)
    }

    fn kind_at(&self, index: usize) -> TokenKind {
        self.tokens.get(index).map_or(TokenKind::Eof, |t| t.kind)
    }

    fn text_of(&self, index: usize) -> &'t str {
        self.tokens
            .get(index)
            .and_then(|t| self.text.get(t.start..t.end))
            .unwrap_or("")
    }

    fn error<T>(&self) -> Result<T, ParseError> {
        Err(ParseError::Syntax(self.pos))
    }

    fn expect(&mut self, kind: TokenKind) -> Result<(), ParseError> {
        if self.kind() == kind {
            self.pos += 1;
            Ok(())
        } else {
            self.error()
        }
    }

    fn is_keyword(&self, kw: Keyword) -> bool {
        self.kind() == TokenKind::Keyword(kw)
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.error();
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    // ---- conditions ----

    /// condition EOF
    pub(crate) fn parse_condition(&mut self) -> Result<RawCond, ParseError> {
        let cond = self.parse_or()?;
        self.expect(TokenKind::Eof)?;
        Ok(cond)
    }

    fn parse_or(&mut self) -> Result<RawCond, ParseError> {
        let left = self.parse_and()?;
        self.continue_or(left)
    }

    fn continue_or(&mut self, mut left: RawCond) -> Result<RawCond, ParseError> {
        while self.is_keyword(Keyword::Or) {
            self.pos += 1;
            let right = self.parse_and()?;
            left = RawCond::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> Result<RawCond, ParseError> {
        let left = self.parse_not()?;
        self.continue_and(left)
    }

    fn continue_and(&mut self, mut left: RawCond) -> Result<RawCond, ParseError> {
        while self.is_keyword(Keyword::And) {
            self.pos += 1;
            let right = self.parse_not()?;
            left = RawCond::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_not(&mut self) -> Result<RawCond, ParseError> {
        if self.is_keyword(Keyword::Not) {
            self.pos += 1;
            self.enter()?;
            let inner = self.parse_not();
            self.leave();
            return Ok(RawCond::Not(Box::new(inner?)));
        }
        match self.parse_group()? {
            Group::Cond(cond) => Ok(cond),
            Group::Operand(op) => self.finish_primary(op),
        }
    }

    /// With the first operand of a primary condition read, reads the rest of it.
    fn finish_primary(&mut self, left: RawOperand) -> Result<RawCond, ParseError> {
        let op = match self.kind() {
            TokenKind::Eq => Some(CompareOp::Eq),
            TokenKind::Ne => Some(CompareOp::Ne),
            TokenKind::Lt => Some(CompareOp::Lt),
            TokenKind::Le => Some(CompareOp::Le),
            TokenKind::Gt => Some(CompareOp::Gt),
            TokenKind::Ge => Some(CompareOp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.pos += 1;
            let right = self.parse_operand()?;
            check_redundant(&left)?;
            check_redundant(&right)?;
            return Ok(RawCond::Compare(op, left, right));
        }
        if self.is_keyword(Keyword::Between) {
            self.pos += 1;
            let low = self.parse_operand()?;
            if !self.is_keyword(Keyword::And) {
                return self.error();
            }
            self.pos += 1;
            let high = self.parse_operand()?;
            for op in [&left, &low, &high] {
                check_redundant(op)?;
            }
            return Ok(RawCond::Between(left, low, high));
        }
        if self.is_keyword(Keyword::In) {
            self.pos += 1;
            self.expect(TokenKind::LParen)?;
            let mut list = vec![self.parse_operand()?];
            while self.kind() == TokenKind::Comma {
                self.pos += 1;
                list.push(self.parse_operand()?);
            }
            self.expect(TokenKind::RParen)?;
            check_redundant(&left)?;
            list.iter().try_for_each(check_redundant)?;
            return Ok(RawCond::In(left, list));
        }
        if is_call(&left) {
            check_redundant(&left)?;
            return Ok(RawCond::Call(left));
        }
        self.error()
    }

    /// Reads an operand, or a parenthesised group that may hold a condition or an operand.
    fn parse_group(&mut self) -> Result<Group, ParseError> {
        if self.kind() != TokenKind::LParen {
            return Ok(Group::Operand(self.parse_simple_operand()?));
        }
        self.pos += 1;
        self.enter()?;
        let group = self.parse_group_body();
        self.leave();
        group
    }

    fn parse_group_body(&mut self) -> Result<Group, ParseError> {
        let cond = if self.is_keyword(Keyword::Not) {
            self.parse_or()?
        } else {
            match self.parse_group()? {
                Group::Cond(first) => self.continue_chain(first)?,
                Group::Operand(op) => {
                    if self.kind() == TokenKind::RParen {
                        self.pos += 1;
                        return Ok(Group::Operand(paren_operand(op)?));
                    }
                    let first = self.finish_primary(op)?;
                    self.continue_chain(first)?
                }
            }
        };
        self.expect(TokenKind::RParen)?;
        Ok(Group::Cond(paren_cond(cond)?))
    }

    fn continue_chain(&mut self, first: RawCond) -> Result<RawCond, ParseError> {
        let and = self.continue_and(first)?;
        self.continue_or(and)
    }

    /// An operand where no condition may appear (right-hand sides, bounds, lists, arguments).
    fn parse_operand(&mut self) -> Result<RawOperand, ParseError> {
        if self.kind() != TokenKind::LParen {
            return self.parse_simple_operand();
        }
        self.pos += 1;
        self.enter()?;
        let inner = self.parse_operand();
        self.leave();
        let inner = inner?;
        self.expect(TokenKind::RParen)?;
        paren_operand(inner)
    }

    /// path | :value | function(args)
    fn parse_simple_operand(&mut self) -> Result<RawOperand, ParseError> {
        match self.kind() {
            TokenKind::Value => {
                let name = self.text_of(self.pos).to_string();
                self.pos += 1;
                Ok(RawOperand::Value(name))
            }
            TokenKind::Ident if self.kind_at(self.pos + 1) == TokenKind::LParen => {
                let name = self.text_of(self.pos).to_string();
                self.pos += 2;
                self.enter()?;
                let args = self.parse_arguments(Self::parse_operand);
                self.leave();
                Ok(RawOperand::Call(name, args?))
            }
            TokenKind::Ident | TokenKind::Name => Ok(RawOperand::Path(self.parse_path()?)),
            _ => self.error(),
        }
    }

    /// `arg (, arg)* )` after the opening parenthesis.
    fn parse_arguments(
        &mut self,
        mut arg: impl FnMut(&mut Self) -> Result<RawOperand, ParseError>,
    ) -> Result<Vec<RawOperand>, ParseError> {
        let mut args = vec![arg(self)?];
        while self.kind() == TokenKind::Comma {
            self.pos += 1;
            args.push(arg(self)?);
        }
        self.expect(TokenKind::RParen)?;
        Ok(args)
    }

    /// (ident | #name) ( . (ident | #name) | [ number ] )*
    fn parse_path(&mut self) -> Result<RawPath, ParseError> {
        let mut elems = vec![self.parse_path_name()?];
        loop {
            match self.kind() {
                TokenKind::Dot => {
                    self.pos += 1;
                    elems.push(self.parse_path_name()?);
                }
                TokenKind::LBracket => {
                    self.pos += 1;
                    if self.kind() != TokenKind::Number {
                        return self.error();
                    }
                    let digits = self.text_of(self.pos);
                    let index = match digits.parse::<u64>() {
                        Ok(n) if n <= i32::MAX as u64 => n as usize,
                        _ => {
                            return Err(ParseError::Message(format!(
                                "List index is not within the allowable range; index: [{digits}]"
                            )));
                        }
                    };
                    self.pos += 1;
                    self.expect(TokenKind::RBracket)?;
                    elems.push(RawElem::Index(index));
                }
                _ => return Ok(RawPath(elems)),
            }
        }
    }

    fn parse_path_name(&mut self) -> Result<RawElem, ParseError> {
        let text = self.text_of(self.pos).to_string();
        let elem = match self.kind() {
            TokenKind::Ident => RawElem::Ident(text),
            TokenKind::Name => RawElem::Name(text),
            _ => return self.error(),
        };
        self.pos += 1;
        Ok(elem)
    }

    // ---- update expressions ----

    pub(crate) fn parse_update(&mut self) -> Result<Vec<RawAction>, ParseError> {
        let mut actions = Vec::new();
        let mut seen: Vec<Clause> = Vec::new();
        loop {
            let clause = match self.kind() {
                TokenKind::Keyword(Keyword::Set) => Clause::Set,
                TokenKind::Keyword(Keyword::Remove) => Clause::Remove,
                TokenKind::Keyword(Keyword::Add) => Clause::Add,
                TokenKind::Keyword(Keyword::Delete) => Clause::Delete,
                TokenKind::Eof if !seen.is_empty() => return Ok(actions),
                _ => return self.error(),
            };
            if seen.contains(&clause) {
                return Err(ParseError::Message(format!(
                    "The \"{}\" section can only be used once in an update expression;",
                    clause.name()
                )));
            }
            seen.push(clause);
            self.pos += 1;
            loop {
                actions.push(self.parse_action(clause)?);
                if self.kind() != TokenKind::Comma {
                    break;
                }
                self.pos += 1;
            }
        }
    }

    fn parse_action(&mut self, clause: Clause) -> Result<RawAction, ParseError> {
        let path = self.parse_path()?;
        match clause {
            Clause::Set => {
                self.expect(TokenKind::Eq)?;
                let value = self.parse_set_value()?;
                check_redundant(&value)?;
                Ok(RawAction::Set(path, value))
            }
            Clause::Remove => Ok(RawAction::Remove(path)),
            Clause::Add | Clause::Delete => {
                if self.kind() != TokenKind::Value {
                    return self.error();
                }
                let value = self.text_of(self.pos).to_string();
                self.pos += 1;
                Ok(if clause == Clause::Add {
                    RawAction::Add(path, value)
                } else {
                    RawAction::Delete(path, value)
                })
            }
        }
    }

    /// `( set-value )` | operand ( (+|-) operand )?
    ///
    /// A parenthesised sum is a whole value: `(a + :n) + :n` is a syntax error in DynamoDB,
    /// while `(a) + (:n)` is fine.
    fn parse_set_value(&mut self) -> Result<RawOperand, ParseError> {
        let left = if self.kind() == TokenKind::LParen {
            self.pos += 1;
            self.enter()?;
            let inner = self.parse_set_value();
            self.leave();
            let inner = inner?;
            self.expect(TokenKind::RParen)?;
            let is_sum = matches!(inner, RawOperand::Arith(..));
            let grouped = paren_operand(inner)?;
            if is_sum {
                return Ok(grouped);
            }
            grouped
        } else {
            self.parse_update_operand()?
        };
        let op = match self.kind() {
            TokenKind::Plus => ArithOp::Plus,
            TokenKind::Minus => ArithOp::Minus,
            _ => return Ok(left),
        };
        self.pos += 1;
        let right = self.parse_update_operand()?;
        Ok(RawOperand::Arith(op, Box::new(left), Box::new(right)))
    }

    /// path | :value | function(operand, ...) | ( operand )
    fn parse_update_operand(&mut self) -> Result<RawOperand, ParseError> {
        match self.kind() {
            TokenKind::LParen => {
                self.pos += 1;
                self.enter()?;
                let inner = self.parse_update_operand();
                self.leave();
                let inner = inner?;
                self.expect(TokenKind::RParen)?;
                paren_operand(inner)
            }
            TokenKind::Value => {
                let name = self.text_of(self.pos).to_string();
                self.pos += 1;
                Ok(RawOperand::Value(name))
            }
            TokenKind::Ident if self.kind_at(self.pos + 1) == TokenKind::LParen => {
                let name = self.text_of(self.pos).to_string();
                self.pos += 2;
                self.enter()?;
                let args = self.parse_arguments(Self::parse_update_operand);
                self.leave();
                Ok(RawOperand::Call(name, args?))
            }
            TokenKind::Ident | TokenKind::Name => Ok(RawOperand::Path(self.parse_path()?)),
            _ => self.error(),
        }
    }

    // ---- projection expressions ----

    pub(crate) fn parse_projection(&mut self) -> Result<Vec<RawPath>, ParseError> {
        let mut paths = vec![self.parse_path()?];
        while self.kind() == TokenKind::Comma {
            self.pos += 1;
            paths.push(self.parse_path()?);
        }
        self.expect(TokenKind::Eof)?;
        Ok(paths)
    }
}

fn is_call(op: &RawOperand) -> bool {
    match op {
        RawOperand::Call(..) => true,
        RawOperand::Paren(inner) => is_call(inner),
        _ => false,
    }
}

fn redundant() -> ParseError {
    ParseError::Message("The expression has redundant parentheses;".to_string())
}

/// Wraps an operand in parentheses. Doubled parentheses are only reported once the operand is
/// used in a complete comparison, function or update action (`check_redundant`), which is
/// when DynamoDB reports them: `((a))` alone is a syntax error, `((a)) = :v` is redundant.
fn paren_operand(inner: RawOperand) -> Result<RawOperand, ParseError> {
    Ok(RawOperand::Paren(Box::new(inner)))
}

pub(crate) fn check_redundant(op: &RawOperand) -> Result<(), ParseError> {
    match op {
        RawOperand::Paren(inner) => {
            if matches!(**inner, RawOperand::Paren(_)) {
                return Err(redundant());
            }
            check_redundant(inner)
        }
        RawOperand::Call(_, args) => args.iter().try_for_each(check_redundant),
        RawOperand::Arith(_, a, b) => {
            check_redundant(a)?;
            check_redundant(b)
        }
        RawOperand::Path(_) | RawOperand::Value(_) => Ok(()),
    }
}

fn paren_cond(inner: RawCond) -> Result<RawCond, ParseError> {
    let doubled = match &inner {
        RawCond::Paren(_) => true,
        RawCond::Call(op) => matches!(op, RawOperand::Paren(_)),
        _ => false,
    };
    if doubled {
        return Err(redundant());
    }
    Ok(RawCond::Paren(Box::new(inner)))
}
