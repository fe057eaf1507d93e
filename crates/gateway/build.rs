//! Embeds the page templates in the binary, so a release build runs from any folder.

fn main() {
    minijinja_embed::embed_templates!("templates");
}
