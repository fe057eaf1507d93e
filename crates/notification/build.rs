//! Embeds the email templates in the binary.

fn main() {
    minijinja_embed::embed_templates!("templates");
}
