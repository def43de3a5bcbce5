//! The tokenizer of the reference agent's configuration syntax.
//!
//! Words are separated by spaces, tabs, carriage returns, newlines, `=` and `;`. `{` and `}` are tokens of
//! their own even when attached to a word (`collector{ip=127.0.0.1}`). `#` starts a comment that runs to the
//! end of its line. A word that starts with `"` runs to the next lone `"` on the same line and may then
//! hold separators, braces and `#`; `""` inside it stands for one `"`.
//!
//! The tokenizer borrows the text and never panics; every word is at most
//! [`super::MAX_TOKEN_BYTES`] long or an error.

use std::borrow::Cow;

use super::error::ConfigErrorKind;
use super::MAX_TOKEN_BYTES;

/// One token of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    /// `{`
    Open,
    /// `}`
    Close,
    /// A word or the content of a quoted string.
    Word(Cow<'a, str>),
}

/// A token and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located<'a> {
    pub token: Token<'a>,
    pub line: u32,
}

/// A word the tokenizer refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenError<'a> {
    pub kind: ConfigErrorKind,
    pub line: u32,
    pub text: &'a str,
}

/// Splits configuration text into tokens, one at a time.
pub(crate) struct Tokenizer<'a> {
    text: &'a str,
    pos: usize,
    line: u32,
}

fn is_separator(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'=' | b';')
}

fn ends_word(b: u8) -> bool {
    is_separator(b) || matches!(b, b'{' | b'}' | b'#')
}

impl<'a> Tokenizer<'a> {
    /// A tokenizer at the start of `text`, line 1.
    pub fn new(text: &'a str) -> Self {
        Tokenizer {
            text,
            pos: 0,
            line: 1,
        }
    }

    /// The line the tokenizer has reached: after the last token, the file's last line.
    pub fn line(&self) -> u32 {
        self.line
    }

    /// The next token, `Ok(None)` at the end of the text.
    pub fn next_token(&mut self) -> Result<Option<Located<'a>>, TokenError<'a>> {
        let bytes = self.text.as_bytes();
        // Skip separators and comments, counting lines.
        while let Some(&b) = bytes.get(self.pos) {
            if b == b'\n' {
                self.line = self.line.saturating_add(1);
                self.pos += 1;
            } else if is_separator(b) {
                self.pos += 1;
            } else if b == b'#' {
                self.pos = memchr_newline(bytes, self.pos);
            } else {
                break;
            }
        }
        let Some(&first) = bytes.get(self.pos) else {
            return Ok(None);
        };
        let line = self.line;
        let start = self.pos;
        let token = match first {
            b'{' => {
                self.pos += 1;
                Token::Open
            }
            b'}' => {
                self.pos += 1;
                Token::Close
            }
            b'"' => self.quoted(start, line)?,
            _ => {
                let mut end = start;
                while bytes.get(end).is_some_and(|&b| !ends_word(b)) {
                    end += 1;
                }
                self.pos = end;
                // Word boundaries are ASCII bytes, so these are char boundaries.
                let word = self.text.get(start..end).unwrap_or("");
                if word.len() > MAX_TOKEN_BYTES {
                    return Err(TokenError {
                        kind: ConfigErrorKind::TokenTooLong,
                        line,
                        text: word,
                    });
                }
                Token::Word(Cow::Borrowed(word))
            }
        };
        Ok(Some(Located { token, line }))
    }

    /// A quoted string whose opening quote is at `start`.
    fn quoted(&mut self, start: usize, line: u32) -> Result<Token<'a>, TokenError<'a>> {
        let bytes = self.text.as_bytes();
        let content = start + 1;
        let mut at = content;
        let mut doubled = false;
        loop {
            match bytes.get(at) {
                Some(b'"') if bytes.get(at + 1) == Some(&b'"') => {
                    doubled = true;
                    at += 2;
                }
                Some(b'"') => break,
                Some(b'\n') | None => {
                    let end = memchr_newline(bytes, start);
                    return Err(TokenError {
                        kind: ConfigErrorKind::UnterminatedQuote,
                        line,
                        text: self.text.get(start..end).unwrap_or(""),
                    });
                }
                Some(_) => at += 1,
            }
        }
        self.pos = at + 1;
        let raw = self.text.get(content..at).unwrap_or("");
        let value = if doubled {
            Cow::Owned(raw.replace("\"\"", "\""))
        } else {
            Cow::Borrowed(raw)
        };
        if value.len() > MAX_TOKEN_BYTES {
            return Err(TokenError {
                kind: ConfigErrorKind::TokenTooLong,
                line,
                text: raw,
            });
        }
        Ok(Token::Word(value))
    }
}

/// The index of the first `\n` at or after `from`, or the length of `bytes`.
fn memchr_newline(bytes: &[u8], from: usize) -> usize {
    bytes
        .get(from..)
        .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
        .map_or(bytes.len(), |offset| from + offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every token as (line, text), `{` and `}` shown as themselves.
    fn tokens(text: &str) -> Vec<(u32, String)> {
        let mut t = Tokenizer::new(text);
        let mut out = Vec::new();
        while let Some(located) = t.next_token().unwrap() {
            let shown = match located.token {
                Token::Open => "{".to_string(),
                Token::Close => "}".to_string(),
                Token::Word(w) => w.into_owned(),
            };
            out.push((located.line, shown));
        }
        out
    }

    fn words(text: &str) -> Vec<String> {
        tokens(text).into_iter().map(|(_, w)| w).collect()
    }

    #[test]
    fn separators_are_space_tab_cr_lf_equals_semicolon() {
        assert_eq!(
            words("a b\tc\r\nd=e;f ==;; g"),
            ["a", "b", "c", "d", "e", "f", "g"]
        );
    }

    #[test]
    fn braces_are_tokens_even_when_attached() {
        assert_eq!(
            words("collector{ip=127.0.0.1}x}{"),
            ["collector", "{", "ip", "127.0.0.1", "}", "x", "}", "{"]
        );
    }

    #[test]
    fn comments_run_to_end_of_line() {
        assert_eq!(
            tokens("a # b { }\n#only\nc#d\n  # e"),
            [(1, "a".into()), (3, "c".into())]
        );
    }

    #[test]
    fn lines_count_lf_only_so_crlf_counts_once() {
        assert_eq!(
            tokens("a\r\n\r\nb\n\nc"),
            [(1, "a".into()), (3, "b".into()), (5, "c".into())]
        );
    }

    #[test]
    fn quoted_strings_keep_separators_braces_and_hash() {
        assert_eq!(
            words(r#"pattern="a b{c}#;=" x"#),
            ["pattern", "a b{c}#;=", "x"]
        );
        assert_eq!(words(r#""say ""hi""" """#), ["say \"hi\"", ""]);
    }

    #[test]
    fn unterminated_quote_names_its_line() {
        let mut t = Tokenizer::new("a\n\"open\nb\"");
        assert!(t.next_token().unwrap().is_some());
        let e = t.next_token().unwrap_err();
        assert_eq!(e.kind, ConfigErrorKind::UnterminatedQuote);
        assert_eq!(e.line, 2);
        assert_eq!(e.text, "\"open");
    }

    #[test]
    fn words_up_to_1024_bytes_pass_longer_fail() {
        let ok = "x".repeat(MAX_TOKEN_BYTES);
        assert_eq!(words(&ok), [ok.as_str()]);
        let long = format!("a\n\n{}y b", ok);
        let mut t = Tokenizer::new(&long);
        t.next_token().unwrap();
        let e = t.next_token().unwrap_err();
        assert_eq!(e.kind, ConfigErrorKind::TokenTooLong);
        assert_eq!(e.line, 3);
        assert_eq!(e.text.len(), MAX_TOKEN_BYTES + 1);
        let quoted = format!("\"{}\"", "q".repeat(MAX_TOKEN_BYTES + 1));
        let e = Tokenizer::new(&quoted).next_token().unwrap_err();
        assert_eq!(e.kind, ConfigErrorKind::TokenTooLong);
    }

    #[test]
    fn multibyte_text_and_control_bytes_do_not_panic() {
        assert_eq!(words("é{ü}\0 ☃"), ["é", "{", "ü", "}", "\0", "☃"]);
        assert_eq!(words(""), Vec::<String>::new());
        assert_eq!(words("#"), Vec::<String>::new());
    }

    #[test]
    fn line_after_end_is_the_last_line() {
        let mut t = Tokenizer::new("a\nb\n\n");
        while t.next_token().unwrap().is_some() {}
        assert_eq!(t.line(), 4);
    }
}
