//! Unicode's default ignorable code points: characters a text shows as nothing where they
//! stand, or that reorder or hide the text around them (bidirectional marks, embeddings,
//! overrides and isolates; zero-width spaces and joiners; the soft hyphen; fillers;
//! variation selectors; tags). What cairn prints escapes them, and a policy refuses them in
//! what it matches: a review cannot see them.

/// Whether `c` is a default ignorable code point (Unicode's `Default_Ignorable_Code_Point`,
/// DerivedCoreProperties.txt).
///
/// ```
/// assert!(cairn_engine::is_default_ignorable('\u{200b}') && cairn_engine::is_default_ignorable('\u{3164}'));
/// assert!(!cairn_engine::is_default_ignorable('a') && !cairn_engine::is_default_ignorable(' '));
/// ```
pub fn is_default_ignorable(c: char) -> bool {
    matches!(c,
        '\u{ad}' | '\u{34f}' | '\u{61c}' | '\u{115f}'..='\u{1160}' | '\u{17b4}'..='\u{17b5}'
        | '\u{180b}'..='\u{180f}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}' | '\u{3164}' | '\u{fe00}'..='\u{fe0f}' | '\u{feff}'
        | '\u{ffa0}' | '\u{fff0}'..='\u{fff8}' | '\u{1bca0}'..='\u{1bca3}'
        | '\u{1d173}'..='\u{1d17a}' | '\u{e0000}'..='\u{e0fff}')
}

/// Whether `c` is a variation selector: a default ignorable character that only picks how
/// the character before it looks (an emoji's presentation), shown as part of it.
pub fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{fe00}'..='\u{fe0f}' | '\u{e0100}'..='\u{e01ef}')
}
