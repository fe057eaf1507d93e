//! The OpenAPI document as served: the framework's, plus what it cannot say.
//!
//! Every request body of the API refuses fields it does not know (`deny_unknown_fields`:
//! a misspelt setting must not be dropped in silence), but the framework does not
//! write `additionalProperties: false`, so a generated client or a contract test would
//! believe extra fields are welcome. Every object schema a request body reaches is
//! closed here; a request type that accepted unknown fields would then contradict its
//! spec, which `cargo xtask api-contract` reports.

use std::collections::BTreeSet;

use serde_json::Value;

const SCHEMA_PREFIX: &str = "#/components/schemas/";

/// The framework's document `generated`, with the request bodies' schemas closed.
pub fn served(generated: &str) -> String {
    let mut spec: Value =
        serde_json::from_str(generated).expect("the framework writes its spec as JSON");
    let mut pending: Vec<String> = Vec::new();
    for operation in spec["paths"]
        .as_object()
        .into_iter()
        .flat_map(|paths| paths.values())
        .filter_map(Value::as_object)
        .flat_map(|operations| operations.values())
    {
        collect_references(&operation["requestBody"], &mut pending);
    }
    let mut closed = BTreeSet::new();
    while let Some(name) = pending.pop() {
        if !closed.insert(name.clone()) {
            continue;
        }
        let Some(schema) = spec.pointer_mut(&format!("/components/schemas/{name}")) else {
            continue;
        };
        collect_references(schema, &mut pending);
        if schema["type"] == "object"
            && let Some(schema) = schema.as_object_mut()
        {
            schema.insert("additionalProperties".to_owned(), Value::Bool(false));
        }
    }
    serde_json::to_string_pretty(&spec).expect("a JSON value serialises")
}

/// The names of the component schemas `value` refers to, at any depth.
fn collect_references(value: &Value, names: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for (key, value) in object {
                match (key.as_str(), value) {
                    ("$ref", Value::String(reference)) => {
                        if let Some(name) = reference.strip_prefix(SCHEMA_PREFIX) {
                            names.push(name.to_owned());
                        }
                    }
                    _ => collect_references(value, names),
                }
            }
        }
        Value::Array(values) => {
            for value in values {
                collect_references(value, names);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    #[test]
    fn request_bodies_and_what_they_contain_are_closed() {
        let generated = json!({
            "paths": {"/tenants": {
                "post": {"requestBody": {"content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/CreateFirm"}}}}},
                "get": {"responses": {"200": {"content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/FirmList"}}}}}}
            }},
            "components": {"schemas": {
                "CreateFirm": {"type": "object", "properties": {
                    "settings": {"allOf": [{"$ref": "#/components/schemas/Settings"}]}}},
                "Settings": {"type": "object", "properties": {}},
                "FirmList": {"type": "object", "properties": {}}
            }}
        });
        let served: Value = serde_json::from_str(&super::served(&generated.to_string())).unwrap();
        let schemas = &served["components"]["schemas"];
        assert_eq!(schemas["CreateFirm"]["additionalProperties"], false);
        assert_eq!(schemas["Settings"]["additionalProperties"], false);
        assert_eq!(schemas["FirmList"].get("additionalProperties"), None);
    }
}
