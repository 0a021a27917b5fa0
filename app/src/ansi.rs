//! ANSI escape sequences in program output. The task page shows their colours; the CI feedback
//! builder keeps only their text ([`plain`]). One tokenizer serves both.
//!
//! Understood: SGR (`ESC [ … m`) resets, bold, dim, italic, underline, inverse and their resets;
//! the 16 palette colours (30–37, 90–97, 40–47, 100–107); 256-colour (`38;5;n`) and true-colour
//! (`38;2;r;g;b`) foregrounds and backgrounds, with `;` or `:` separators. Dropped: every other
//! CSI (cursor moves, erases), the 8-bit CSI, OSC (titles; a hyperlink's text stays), and two-byte
//! and nF escapes such as `ESC ( B`.

/// A colour as the program asked for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    /// 0–15: the themeable palette; 16–255: the xterm cube and grey ramp.
    Indexed(u8),
    Rgb(u8, u8, u8),
}

impl Color {
    /// `#rrggbb` of a colour that is not one of the 16 themeable ones.
    fn hex(self) -> Option<String> {
        let (r, g, b) = match self {
            Color::Indexed(n) if n < 16 => return None,
            Color::Indexed(n) if n >= 232 => {
                let level = 8 + 10 * (n - 232);
                (level, level, level)
            }
            Color::Indexed(n) => {
                let n = n - 16;
                let level = |v: u8| if v == 0 { 0 } else { 55 + 40 * v };
                (level(n / 36), level((n / 6) % 6), level(n % 6))
            }
            Color::Rgb(r, g, b) => (r, g, b),
        };
        Some(format!("#{r:02x}{g:02x}{b:02x}"))
    }
}

/// The look of a run of text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    pub fg: Option<Color>,
    pub bg: Option<Color>,
    pub bold: bool,
    pub dim: bool,
    pub italic: bool,
    pub underline: bool,
    pub inverse: bool,
}

impl Style {
    /// Applies the parameters of one SGR sequence (the part between `ESC [` and `m`).
    pub fn apply(&mut self, params: &str) {
        let number = |p: &str| {
            if p.is_empty() {
                Some(0)
            } else {
                p.parse::<u32>().ok()
            }
        };
        let mut groups = params.split(';');
        while let Some(group) = groups.next() {
            // `38:5:n`, `38:2:[colour space]:r:g:b`, `4:3`: sub-parameters within one group.
            if group.contains(':') {
                let parts: Vec<&str> = group.split(':').collect();
                match number(parts[0]) {
                    Some(code @ (38 | 48)) => {
                        let color = match parts.get(1).copied().and_then(number) {
                            Some(5) => parts.get(2).copied().and_then(indexed),
                            Some(2) if parts.len() >= 5 => rgb(&parts[parts.len() - 3..]),
                            _ => None,
                        };
                        self.set_color(code, color);
                    }
                    Some(code) => self.apply_code(code),
                    None => {}
                }
                continue;
            }
            match number(group) {
                Some(code @ (38 | 48)) => {
                    let color = match groups.next().and_then(number) {
                        Some(5) => groups.next().and_then(indexed),
                        Some(2) => {
                            let channels: Vec<&str> = groups.by_ref().take(3).collect();
                            rgb(&channels)
                        }
                        _ => None,
                    };
                    self.set_color(code, color);
                }
                Some(code) => self.apply_code(code),
                None => {}
            }
        }
    }

    fn set_color(&mut self, code: u32, color: Option<Color>) {
        match (code, color) {
            (38, Some(color)) => self.fg = Some(color),
            (48, Some(color)) => self.bg = Some(color),
            _ => {}
        }
    }

    fn apply_code(&mut self, code: u32) {
        match code {
            0 => *self = Style::default(),
            1 => self.bold = true,
            2 => self.dim = true,
            3 => self.italic = true,
            4 => self.underline = true,
            7 => self.inverse = true,
            22 => (self.bold, self.dim) = (false, false),
            23 => self.italic = false,
            24 => self.underline = false,
            27 => self.inverse = false,
            30..=37 => self.fg = Some(Color::Indexed((code - 30) as u8)),
            90..=97 => self.fg = Some(Color::Indexed((code - 90 + 8) as u8)),
            40..=47 => self.bg = Some(Color::Indexed((code - 40) as u8)),
            100..=107 => self.bg = Some(Color::Indexed((code - 100 + 8) as u8)),
            39 => self.fg = None,
            49 => self.bg = None,
            _ => {}
        }
    }

    pub fn is_plain(&self) -> bool {
        *self == Style::default()
    }

    /// CSS classes for this style (`ansi-*`, defined in `style/main.css` for light and dark
    /// pages). The 16 palette colours are classes so that the page's theme picks their shades.
    pub fn classes(&self) -> String {
        let (fg, bg) = if self.inverse {
            (self.bg, self.fg)
        } else {
            (self.fg, self.bg)
        };
        let mut classes = Vec::new();
        if self.inverse {
            classes.push("ansi-inverse".to_string());
        }
        for (flag, class) in [
            (self.bold, "ansi-bold"),
            (self.dim, "ansi-dim"),
            (self.italic, "ansi-italic"),
            (self.underline, "ansi-underline"),
        ] {
            if flag {
                classes.push(class.to_string());
            }
        }
        if let Some(Color::Indexed(n @ 0..=15)) = fg {
            classes.push(format!("ansi-fg-{n}"));
        }
        if let Some(Color::Indexed(n @ 0..=15)) = bg {
            classes.push(format!("ansi-bg-{n}"));
        }
        classes.join(" ")
    }

    /// Inline CSS for colours outside the palette (`color:#5f87af`), else empty.
    pub fn inline_css(&self) -> String {
        let (fg, bg) = if self.inverse {
            (self.bg, self.fg)
        } else {
            (self.fg, self.bg)
        };
        let mut css = String::new();
        if let Some(hex) = fg.and_then(Color::hex) {
            css.push_str(&format!("color:{hex};"));
        }
        if let Some(hex) = bg.and_then(Color::hex) {
            css.push_str(&format!("background-color:{hex};"));
        }
        css
    }
}

fn indexed(p: &str) -> Option<Color> {
    p.parse::<u8>().ok().map(Color::Indexed)
}

fn rgb(channels: &[&str]) -> Option<Color> {
    match channels {
        [r, g, b] => Some(Color::Rgb(
            r.parse().ok()?,
            g.parse().ok()?,
            b.parse().ok()?,
        )),
        _ => None,
    }
}

/// A run of text in one style.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub style: Style,
}

enum Token<'a> {
    Text(&'a str),
    /// The parameters of an SGR sequence.
    Sgr(&'a str),
    /// Any other escape sequence, already skipped.
    Other,
}

/// Splits `line` into text and escape sequences.
fn tokens(line: &str) -> impl Iterator<Item = Token<'_>> {
    let mut rest = line;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let Some(start) = rest.find(['\u{1b}', '\u{9b}']) else {
            return Some(Token::Text(std::mem::take(&mut rest)));
        };
        if start > 0 {
            let (text, tail) = rest.split_at(start);
            rest = tail;
            return Some(Token::Text(text));
        }
        let (token, len) = escape(rest);
        rest = &rest[len..];
        Some(token)
    })
}

/// The escape sequence at the start of `s` (which starts with ESC or the 8-bit CSI) and its
/// length in bytes. An unfinished sequence runs to the end of the line.
fn escape(s: &str) -> (Token<'_>, usize) {
    let bytes = s.as_bytes();
    let (csi_start, is_csi) = if s.starts_with('\u{9b}') {
        ('\u{9b}'.len_utf8(), true)
    } else {
        (2, bytes.get(1) == Some(&b'['))
    };
    if is_csi {
        // Parameters and intermediates (0x20–0x3f), then one final byte (0x40–0x7e).
        let body = &bytes[csi_start.min(bytes.len())..];
        let params_len = body
            .iter()
            .position(|b| !(0x20..=0x3f).contains(b))
            .unwrap_or(body.len());
        // A private marker (`ESC [ > 4 ; 2 m`: xterm's modifyOtherKeys) is not a colour.
        let private = body.first().is_some_and(|b| b"<=>?".contains(b));
        return match body.get(params_len) {
            Some(b'm') if !private => (
                Token::Sgr(&s[csi_start..csi_start + params_len]),
                csi_start + params_len + 1,
            ),
            Some(0x40..=0x7e) => (Token::Other, csi_start + params_len + 1),
            _ => (Token::Other, csi_start + params_len),
        };
    }
    match bytes.get(1) {
        // OSC: up to BEL or ESC \ (string terminator).
        Some(b']') => {
            let body = &s[2..];
            let end = match (body.find('\u{7}'), body.find('\u{1b}')) {
                (Some(bel), Some(esc)) if esc < bel => {
                    esc + 1 + usize::from(body[esc + 1..].starts_with('\\'))
                }
                (Some(bel), _) => bel + 1,
                (None, Some(esc)) => esc + 1 + usize::from(body[esc + 1..].starts_with('\\')),
                (None, None) => body.len(),
            };
            (Token::Other, 2 + end)
        }
        // nF escapes such as `ESC ( B`: intermediates, then a final byte.
        Some(0x20..=0x2f) => {
            let mut i = 1;
            while bytes.get(i).is_some_and(|b| (0x20..=0x2f).contains(b)) {
                i += 1;
            }
            if bytes.get(i).is_some_and(|b| (0x30..=0x7e).contains(b)) {
                i += 1;
            }
            (Token::Other, i)
        }
        // Two-byte escapes (`ESC =`, `ESC M`, …).
        Some(0x30..=0x7e) => (Token::Other, 2),
        _ => (Token::Other, 1),
    }
}

/// `text` as a terminal shows it, without the styles: what [`spans`] gives, as one string.
pub fn plain(text: &str) -> String {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\t' && c != '\n')
    {
        return text.to_owned();
    }
    spans(text).into_iter().map(|span| span.text).collect()
}

/// `text` as styled runs, the way a terminal would show it: line breaks stay; a carriage return
/// not followed by a line break starts its line over (a progress bar's last state wins, also
/// when an escape such as `ESC [ K` sits between the `\r` and the new text); other control
/// characters but tab are dropped; adjacent runs in the same style are merged.
pub fn spans(text: &str) -> Vec<Span> {
    let mut done: Vec<Span> = Vec::new();
    let mut line: Vec<Span> = Vec::new();
    let mut style = Style::default();
    let mut carriage_return = false;
    for token in tokens(text) {
        match token {
            Token::Sgr(params) => style.apply(params),
            Token::Other => {}
            Token::Text(text) => {
                for c in text.chars() {
                    match c {
                        '\n' => {
                            carriage_return = false;
                            push_char(&mut line, c, style);
                            append_merged(&mut done, &mut line);
                        }
                        '\r' => carriage_return = true,
                        c if c.is_control() && c != '\t' => {}
                        c => {
                            if std::mem::take(&mut carriage_return) {
                                line.clear();
                            }
                            push_char(&mut line, c, style);
                        }
                    }
                }
            }
        }
    }
    append_merged(&mut done, &mut line);
    done
}

fn push_char(spans: &mut Vec<Span>, c: char, style: Style) {
    match spans.last_mut() {
        Some(last) if last.style == style => last.text.push(c),
        _ => spans.push(Span {
            text: c.to_string(),
            style,
        }),
    }
}

/// Moves `more` onto the end of `spans`, joining the two runs where they meet if they match.
fn append_merged(spans: &mut Vec<Span>, more: &mut Vec<Span>) {
    let mut more = std::mem::take(more).into_iter();
    if let (Some(last), Some(first)) = (spans.last_mut(), more.as_slice().first()) {
        if last.style == first.style {
            last.text.push_str(&first.text);
            more.next();
        }
    }
    spans.extend(more);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unstyled(text: &str) -> Span {
        Span {
            text: text.into(),
            style: Style::default(),
        }
    }

    #[test]
    fn plain_removes_csi_osc_and_other_escapes() {
        assert_eq!(plain("\u{1b}[36;1mcargo test\u{1b}[0m"), "cargo test");
        assert_eq!(
            plain("\u{1b}]8;;https://example.com\u{7}link\u{1b}]8;;\u{7} and \u{1b}]0;title\u{1b}\\done"),
            "link and done"
        );
        assert_eq!(plain("a \u{1b}[31mFAILED\u{1b}(B\u{1b}[m"), "a FAILED");
        assert_eq!(plain("\u{9b}32mgreen\u{1b}[2K\u{1b}[1G"), "green");
        assert_eq!(plain("keypad\u{1b}=on\u{1b}"), "keypadon");
        assert_eq!(plain("unfinished \u{1b}[31"), "unfinished ");
        assert_eq!(plain("grüße ✕ 日本"), "grüße ✕ 日本");
    }

    #[test]
    fn spans_carry_colours_and_attributes() {
        let spans = spans(
            "\u{1b}[1m\u{1b}[92m   Compiling\u{1b}[0m widgets \u{1b}[2;3;4mv0.1\u{1b}[22;23;24m",
        );
        assert_eq!(spans.len(), 3);
        assert_eq!(spans[0].text, "   Compiling");
        assert_eq!(
            spans[0].style,
            Style {
                bold: true,
                fg: Some(Color::Indexed(10)),
                ..Style::default()
            }
        );
        assert_eq!(spans[0].style.classes(), "ansi-bold ansi-fg-10");
        assert_eq!(spans[1], unstyled(" widgets "));
        assert_eq!(
            spans[2].style.classes(),
            "ansi-dim ansi-italic ansi-underline"
        );
    }

    #[test]
    fn extended_colours_become_inline_css() {
        let spans = spans("\u{1b}[38;5;67mcube\u{1b}[38;5;244mgrey\u{1b}[48;2;255;0;128mrgb\u{1b}[38:2::1:2:3mcolon\u{1b}[38;5;1mpalette");
        let css: Vec<String> = spans.iter().map(|s| s.style.inline_css()).collect();
        assert_eq!(css[0], "color:#5f87af;");
        assert_eq!(css[1], "color:#808080;");
        assert_eq!(css[2], "color:#808080;background-color:#ff0080;");
        assert_eq!(spans[3].style.fg, Some(Color::Rgb(1, 2, 3)), "38:2::r:g:b");
        assert_eq!(spans[4].style.classes(), "ansi-fg-1");
        assert_eq!(spans[4].style.inline_css(), "background-color:#ff0080;");
    }

    #[test]
    fn inverse_swaps_colours_and_resets_restore() {
        let spans = spans("\u{1b}[31;42;7mx\u{1b}[27my\u{1b}[39;49mz");
        assert_eq!(spans[0].style.classes(), "ansi-inverse ansi-fg-2 ansi-bg-1");
        assert_eq!(spans[1].style.classes(), "ansi-fg-1 ansi-bg-2");
        assert!(spans[2].style.is_plain());
    }

    #[test]
    fn carriage_returns_and_controls_behave_like_a_terminal() {
        assert_eq!(
            spans("Downloading 10%\rDownloading \u{1b}[32m100%\u{1b}[0m\r"),
            vec![
                unstyled("Downloading "),
                Span {
                    text: "100%".into(),
                    style: Style {
                        fg: Some(Color::Indexed(2)),
                        ..Style::default()
                    }
                }
            ]
        );
        assert_eq!(
            spans("bell\u{7} back\u{8}space\ttab"),
            vec![unstyled("bell backspace\ttab")]
        );
        assert_eq!(spans(""), vec![]);
    }

    #[test]
    fn line_breaks_stay_and_a_carriage_return_only_rewrites_its_line() {
        assert_eq!(spans("first\nsecond"), vec![unstyled("first\nsecond")]);
        assert_eq!(spans("a\r\nb\r\nc"), vec![unstyled("a\nb\nc")]);
        // Progress bars: `\r`, erase line, new state; the earlier line is untouched.
        assert_eq!(
            spans("done\n10%\r\u{1b}[2K20%\r\u{1b}[K30%"),
            vec![unstyled("done\n30%")]
        );
        let styled = spans("\u{1b}[31mred\nstill red\u{1b}[0m\nplain");
        assert_eq!(styled.len(), 2);
        assert_eq!(styled[0].text, "red\nstill red");
        assert_eq!(styled[0].style.fg, Some(Color::Indexed(1)));
        assert_eq!(styled[1], unstyled("\nplain"));
    }

    #[test]
    fn private_csi_sequences_are_not_colours() {
        assert_eq!(spans("\u{1b}[>4;2mkeys"), vec![unstyled("keys")]);
        assert_eq!(
            plain("\u{1b}[?25lhidden cursor\u{1b}[?25h"),
            "hidden cursor"
        );
    }

    #[test]
    fn malformed_parameters_are_ignored_not_fatal() {
        let spans = spans("\u{1b}[38;5mx\u{1b}[38;2;1;2my\u{1b}[999;31mz\u{1b}[38;5;300mw");
        assert!(spans[0].style.is_plain());
        assert_eq!(spans[0].text, "xy");
        assert_eq!(spans[1].style.fg, Some(Color::Indexed(1)));
        assert_eq!(spans[1].text, "zw", "an out-of-range index changes nothing");
    }
}
