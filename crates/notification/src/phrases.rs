//! The words of every email, in English and Italian. Values reach the templates as
//! data, so a firm's or person's name inside them is escaped like any other value.

use std::collections::BTreeMap;

use crate::EmailKind;

/// The locales emails are written in.
pub const LOCALES: &[&str] = &["en", "it"];

/// The subject and phrases of `kind` in `locale` (English when unknown). The caller
/// fills in the placeholders `{name}`, `{firm}`, `{minutes}` and `{hours}`.
pub(crate) fn phrases(
    kind: EmailKind,
    locale: &str,
) -> (&'static str, BTreeMap<&'static str, &'static str>) {
    let italian = locale == "it";
    let footer = if italian {
        "Questa email è stata inviata automaticamente dal portale clienti {firm}."
    } else {
        "This email was sent automatically by the {firm} client portal."
    };
    let (subject, pairs): (&str, Vec<(&str, &str)>) = match (kind, italian) {
        (EmailKind::PasswordReset, false) => (
            "Password Reset",
            vec![
                ("heading", "Password Reset"),
                ("greeting", "Hello {name},"),
                (
                    "intro",
                    "We received a request to reset the password of your {firm} account. Use the button below to choose a new password.",
                ),
                ("button", "Reset Password"),
                (
                    "copy_hint",
                    "If the button doesn't work, copy this link into your browser:",
                ),
                (
                    "expiry",
                    "This link expires in {minutes} minutes and can be used only once.",
                ),
                (
                    "ignore",
                    "If you did not ask for this, ignore this email: your password stays as it is.",
                ),
            ],
        ),
        (EmailKind::PasswordReset, true) => (
            "Reimpostazione password",
            vec![
                ("heading", "Reimpostazione password"),
                ("greeting", "Gentile {name},"),
                (
                    "intro",
                    "Abbiamo ricevuto una richiesta di reimpostare la password del tuo account {firm}. Usa il pulsante qui sotto per sceglierne una nuova.",
                ),
                ("button", "Reimposta password"),
                (
                    "copy_hint",
                    "Se il pulsante non funziona, copia questo link nel browser:",
                ),
                (
                    "expiry",
                    "Il link scade tra {minutes} minuti e si può usare una sola volta.",
                ),
                (
                    "ignore",
                    "Se non hai chiesto tu la reimpostazione, ignora questa email: la password resta invariata.",
                ),
            ],
        ),
        (EmailKind::Invitation, false) => (
            "Set your password",
            vec![
                ("heading", "Welcome to {firm}"),
                ("greeting", "Hello {name},"),
                (
                    "intro",
                    "An account was created for you on the {firm} client portal. Choose your password to sign in.",
                ),
                ("button", "Set your password"),
                (
                    "copy_hint",
                    "If the button doesn't work, copy this link into your browser:",
                ),
                (
                    "expiry",
                    "This link expires in {hours} hours and can be used only once.",
                ),
            ],
        ),
        (EmailKind::Invitation, true) => (
            "Imposta la tua password",
            vec![
                ("heading", "Benvenuto in {firm}"),
                ("greeting", "Gentile {name},"),
                (
                    "intro",
                    "È stato creato un account per te sul portale clienti {firm}. Scegli la tua password per accedere.",
                ),
                ("button", "Imposta la password"),
                (
                    "copy_hint",
                    "Se il pulsante non funziona, copia questo link nel browser:",
                ),
                (
                    "expiry",
                    "Il link scade tra {hours} ore e si può usare una sola volta.",
                ),
            ],
        ),
        (EmailKind::PasswordChanged, false) => (
            "Your password was changed",
            vec![
                ("heading", "Your password was changed"),
                ("greeting", "Hello {name},"),
                (
                    "intro",
                    "The password of your {firm} account was just changed, and every other session was signed out.",
                ),
                (
                    "warning",
                    "If you did not do this, reset your password now and contact {firm}.",
                ),
            ],
        ),
        (EmailKind::PasswordChanged, true) => (
            "La tua password è stata cambiata",
            vec![
                ("heading", "La tua password è stata cambiata"),
                ("greeting", "Gentile {name},"),
                (
                    "intro",
                    "La password del tuo account {firm} è appena stata cambiata e tutte le altre sessioni sono state chiuse.",
                ),
                (
                    "warning",
                    "Se non sei stato tu, reimposta subito la password e contatta {firm}.",
                ),
            ],
        ),
        (EmailKind::TemporaryPassword, false) => (
            "Your new password",
            vec![
                ("heading", "New password sent via mail"),
                ("greeting", "Hello {name},"),
                (
                    "intro",
                    "Here is a new temporary password for your {firm} account:",
                ),
                (
                    "change",
                    "Sign in with it; you will be asked to choose your own password right away.",
                ),
            ],
        ),
        (EmailKind::TemporaryPassword, true) => (
            "La tua nuova password",
            vec![
                ("heading", "Nuova password inviata via email"),
                ("greeting", "Gentile {name},"),
                (
                    "intro",
                    "Ecco una nuova password temporanea per il tuo account {firm}:",
                ),
                (
                    "change",
                    "Accedi con questa password: ti verrà chiesto subito di sceglierne una tua.",
                ),
            ],
        ),
        (EmailKind::FindYourFirm, false) => (
            "Your client portals",
            vec![
                ("heading", "Your client portals"),
                (
                    "intro",
                    "This email address has an account at these firms. Open one to sign in:",
                ),
                (
                    "ignore",
                    "If you did not ask for this list, ignore this email.",
                ),
            ],
        ),
        (EmailKind::FindYourFirm, true) => (
            "I tuoi portali clienti",
            vec![
                ("heading", "I tuoi portali clienti"),
                (
                    "intro",
                    "Questo indirizzo email ha un account presso questi studi. Aprine uno per accedere:",
                ),
                (
                    "ignore",
                    "Se non hai chiesto questo elenco, ignora questa email.",
                ),
            ],
        ),
        (EmailKind::AccessRequest, false) => (
            "New access request",
            vec![
                ("heading", "New access request"),
                (
                    "intro",
                    "Someone asked for an account on the {firm} client portal.",
                ),
                ("name", "Name"),
                ("email", "Email"),
                ("company", "Company"),
                ("message", "Message"),
                ("review", "Review access requests"),
            ],
        ),
        (EmailKind::AccessRequest, true) => (
            "Nuova richiesta di accesso",
            vec![
                ("heading", "Nuova richiesta di accesso"),
                (
                    "intro",
                    "Qualcuno ha chiesto un account sul portale clienti {firm}.",
                ),
                ("name", "Nome"),
                ("email", "Email"),
                ("company", "Azienda"),
                ("message", "Messaggio"),
                ("review", "Vedi le richieste di accesso"),
            ],
        ),
    };
    let mut map: BTreeMap<&'static str, &'static str> = pairs.into_iter().collect();
    map.insert("footer", footer);
    (subject, map)
}

#[cfg(test)]
mod tests {
    use super::phrases;
    use crate::EmailKind;

    #[test]
    fn english_and_italian_have_the_same_phrases() {
        for kind in EmailKind::ALL {
            let (_, en) = phrases(kind, "en");
            let (_, it) = phrases(kind, "it");
            assert_eq!(
                en.keys().collect::<Vec<_>>(),
                it.keys().collect::<Vec<_>>(),
                "{kind:?}"
            );
        }
        assert_eq!(phrases(EmailKind::PasswordReset, "en").0, "Password Reset");
        assert_eq!(
            phrases(EmailKind::PasswordReset, "xx").0,
            "Password Reset",
            "unknown locales fall back to English"
        );
    }
}
