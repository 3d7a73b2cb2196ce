//! A JSON reader into a [`Node`] tree that keeps key order and positions
//! (`serde_json` without `preserve_order` sorts keys, and Portkey's conditions are
//! evaluated in the order written). Strict RFC 8259: one value, no comments, no
//! trailing commas. A key written twice is an error (JavaScript would keep the last
//! value silently).

use super::tree::{Key, Node, Value};
use crate::error::{Diagnostic, InputError, Location};

/// Parse `text` (the contents of `file`).
pub fn parse(file: &str, text: &str) -> Result<Node, InputError> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        i: 0,
        line: 1,
        line_start: 0,
        file,
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i < p.s.len() {
        return Err(p.error("expected the end of the file after the JSON value"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    line: usize,
    line_start: usize,
    file: &'a str,
}

const MAX_DEPTH: usize = 128;

impl Parser<'_> {
    fn col(&self) -> usize {
        self.text[self.line_start..self.i].chars().count() + 1
    }

    fn error(&self, msg: &str) -> InputError {
        InputError::one(Diagnostic {
            file: self.file.to_string(),
            location: Location::Text {
                line: self.line,
                col: self.col(),
            },
            message: format!("invalid JSON: {msg}"),
        })
    }

    fn ws(&mut self) {
        while let Some(&c) = self.s.get(self.i) {
            match c {
                b' ' | b'\t' | b'\r' => self.i += 1,
                b'\n' => {
                    self.i += 1;
                    self.line += 1;
                    self.line_start = self.i;
                }
                _ => break,
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, InputError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested deeper than 128 levels"));
        }
        let (line, col) = (self.line, self.col());
        let value = match self.s.get(self.i) {
            None => return Err(self.error("unexpected end of file; expected a value")),
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Value::Str(self.string()?),
            Some(b't') => self.word("true", Value::Bool(true))?,
            Some(b'f') => self.word("false", Value::Bool(false))?,
            Some(b'n') => self.word("null", Value::Null)?,
            Some(c) if *c == b'-' || c.is_ascii_digit() => self.number()?,
            Some(_) => {
                return Err(self.error(
                    "expected a value (object, array, string, number, true, false or null)",
                ));
            }
        };
        Ok(Node { value, line, col })
    }

    fn word(&mut self, w: &str, v: Value) -> Result<Value, InputError> {
        if self.s[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            Ok(v)
        } else {
            Err(self.error("expected a value (object, array, string, number, true, false or null)"))
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, InputError> {
        self.i += 1;
        let mut entries: Vec<(Key, Node)> = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(Value::Map(entries));
        }
        loop {
            self.ws();
            if self.s.get(self.i) != Some(&b'"') {
                return Err(self.error("expected a key in double quotes"));
            }
            let (line, col) = (self.line, self.col());
            let name = self.string()?;
            if let Some((k, _)) = entries.iter().find(|(k, _)| k.name == name) {
                return Err(InputError::one(Diagnostic {
                    file: self.file.to_string(),
                    location: Location::Text { line, col },
                    message: format!(
                        "key \"{name}\" is written twice in this object (first on line {}); keep one",
                        k.line
                    ),
                }));
            }
            self.ws();
            if self.s.get(self.i) != Some(&b':') {
                return Err(self.error("expected ':' after the key"));
            }
            self.i += 1;
            self.ws();
            let v = self.value(depth + 1)?;
            entries.push((Key { name, line, col }, v));
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Value::Map(entries));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, InputError> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(Value::Seq(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Value::Seq(items));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, InputError> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|t| u32::from_str_radix(t, 16).ok())
            .ok_or_else(|| self.error("expected four hex digits after \\u"))?;
        self.i += 4;
        Ok(h)
    }

    fn string(&mut self) -> Result<String, InputError> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(&c) = self.s.get(self.i) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.i += 1;
            }
            out.push_str(&self.text[start..self.i]);
            match self.s.get(self.i) {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let Some(&e) = self.s.get(self.i) else {
                        return Err(self.error("unterminated string"));
                    };
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let c = if (0xD800..0xDC00).contains(&hi)
                                && self.s[self.i..].starts_with(b"\\u")
                            {
                                self.i += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                                } else {
                                    None
                                }
                            } else {
                                char::from_u32(hi)
                            };
                            out.push(c.unwrap_or('\u{FFFD}'));
                        }
                        _ => return Err(self.error("unknown escape sequence")),
                    }
                }
                Some(_) => return Err(self.error("control character in a string")),
            }
        }
    }

    fn number(&mut self) -> Result<Value, InputError> {
        let start = self.i;
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        let digits = |p: &mut Self| {
            let st = p.i;
            while p.s.get(p.i).is_some_and(u8::is_ascii_digit) {
                p.i += 1;
            }
            p.i - st
        };
        let int_start = self.i;
        if digits(self) == 0 {
            return Err(self.error("expected a digit"));
        }
        if self.s[int_start] == b'0' && self.i - int_start > 1 {
            return Err(self.error("a number may not start with 0"));
        }
        let mut integral = true;
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            integral = false;
            if digits(self) == 0 {
                return Err(self.error("expected a digit after the decimal point"));
            }
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            integral = false;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("expected a digit in the exponent"));
            }
        }
        let t = &self.text[start..self.i];
        if integral && let Ok(i) = t.parse::<i64>() {
            return Ok(Value::Int(i));
        }
        t.parse::<f64>()
            .map(Value::Float)
            .map_err(|_| self.error("invalid number"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_key_order_types_and_positions() {
        let n = parse(
            "c.json",
            "{\n  \"b\": 1,\n  \"a\": [2.5, \"x\\u00e9\", true, null],\n  \"c\": {}\n}",
        )
        .unwrap();
        let e = n.entries().unwrap();
        let keys: Vec<&str> = e.iter().map(|(k, _)| k.name.as_str()).collect();
        assert_eq!(keys, ["b", "a", "c"]);
        assert_eq!((e[1].0.line, e[1].0.col), (3, 3));
        assert_eq!(e[0].1.value, Value::Int(1));
        let items = e[1].1.items().unwrap();
        assert_eq!(items[0].value, Value::Float(2.5));
        assert_eq!(items[1].as_str(), Some("xé"));
        assert_eq!((items[2].line, items[2].col), (3, 25));
    }

    #[test]
    fn errors_name_line_and_column() {
        let msg = |t: &str| parse("c.json", t).unwrap_err().to_string();
        assert_eq!(
            msg("{\n  \"a\": 1,\n}"),
            "c.json:3:1: invalid JSON: expected a key in double quotes"
        );
        assert_eq!(
            msg("{\"a\": 1, \"a\": 2}"),
            "c.json:1:10: key \"a\" is written twice in this object (first on line 1); keep one"
        );
        assert_eq!(
            msg("[1 2]"),
            "c.json:1:4: invalid JSON: expected ',' or ']'"
        );
        assert_eq!(
            msg("{} x"),
            "c.json:1:4: invalid JSON: expected the end of the file after the JSON value"
        );
    }
}
