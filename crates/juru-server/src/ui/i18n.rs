//! Translations.
#[derive(Default)]
pub(crate) struct I18n;
impl I18n {
    pub(crate) fn load() -> Self {
        I18n
    }
}
