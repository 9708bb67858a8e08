//! The two tools and their schemas, as an rmcp [`ServerHandler`].

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, JsonObject,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// One payment `send_payment` made.
#[derive(Clone, Debug, PartialEq)]
pub struct Payment {
    /// Who was paid.
    pub recipient: String,
    /// How much.
    pub amount: f64,
}

/// The tool handler: `get_weather(city, units?)`, `send_payment(recipient, amount)`.
#[derive(Clone)]
pub struct Tools {
    ledger: Arc<Mutex<Vec<Payment>>>,
}

impl Tools {
    /// Tools that record payments in `ledger`.
    pub fn new(ledger: Arc<Mutex<Vec<Payment>>>) -> Self {
        Self { ledger }
    }

    /// The tool definitions `tools/list` answers.
    pub fn definitions() -> Vec<Tool> {
        vec![
            Tool::new(
                "get_weather",
                "The current weather in a city",
                schema(json!({
                    "type": "object",
                    "properties": {
                        "city": {"type": "string"},
                        "units": {"type": "string", "enum": ["metric", "imperial"]}
                    },
                    "required": ["city"]
                })),
            ),
            Tool::new(
                "send_payment",
                "Pays an amount to a recipient",
                schema(json!({
                    "type": "object",
                    "properties": {
                        "recipient": {"type": "string"},
                        "amount": {"type": "number"}
                    },
                    "required": ["recipient", "amount"]
                })),
            ),
        ]
    }

    fn call(&self, name: &str, args: &JsonObject) -> Result<String, String> {
        match name {
            "get_weather" => {
                let city = str_arg(args, "city")?;
                let metric = args.get("units").and_then(Value::as_str) != Some("imperial");
                // A made-up but stable reading per city.
                let seed = city
                    .bytes()
                    .fold(7u32, |h, b| h.wrapping_mul(31) ^ u32::from(b));
                let celsius = i64::from(seed % 30) - 2;
                let sky = ["clear", "cloudy", "rain", "windy"][(seed / 30 % 4) as usize];
                Ok(if metric {
                    format!("{city}: {celsius}°C, {sky}")
                } else {
                    format!("{city}: {}°F, {sky}", celsius * 9 / 5 + 32)
                })
            }
            "send_payment" => {
                let recipient = str_arg(args, "recipient")?.to_owned();
                let amount = args
                    .get("amount")
                    .and_then(Value::as_f64)
                    .ok_or("`amount` must be a number")?;
                let text = format!("paid {amount:?} to {recipient}");
                match self.ledger.lock() {
                    Ok(mut l) => l.push(Payment { recipient, amount }),
                    Err(e) => e.into_inner().push(Payment { recipient, amount }),
                }
                Ok(text)
            }
            other => Err(format!("unknown tool {other:?}")),
        }
    }
}

fn schema(v: Value) -> Arc<JsonObject> {
    match v {
        Value::Object(m) => Arc::new(m),
        _ => Arc::new(JsonObject::new()),
    }
}

fn str_arg<'a>(args: &'a JsonObject, key: &str) -> Result<&'a str, String> {
    args.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("`{key}` must be a string"))
}

impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(Self::definitions()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = request.arguments.unwrap_or_default();
        Ok(match self.call(&request.name, &args) {
            Ok(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
            Err(e) => CallToolResult::error(vec![ContentBlock::text(e)]),
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> JsonObject {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_payment_is_recorded_once_per_call() {
        let t = Tools::new(Arc::default());
        let args = obj(json!({"recipient": "acme", "amount": 50}));
        assert_eq!(
            t.call("send_payment", &args).as_deref(),
            Ok("paid 50.0 to acme")
        );
        assert_eq!(t.ledger.lock().map(|l| l.len()).unwrap_or(0), 1);
        assert!(
            t.call("send_payment", &obj(json!({"recipient": "acme"})))
                .is_err()
        );
        assert_eq!(t.ledger.lock().map(|l| l.len()).unwrap_or(0), 1);
    }

    #[test]
    fn the_weather_is_stable_per_city() {
        let t = Tools::new(Arc::default());
        let a = t.call("get_weather", &obj(json!({"city": "Paris"})));
        assert_eq!(a, t.call("get_weather", &obj(json!({"city": "Paris"}))));
        assert!(a.is_ok_and(|s| s.starts_with("Paris: ")));
        assert!(t.call("delete_records", &JsonObject::new()).is_err());
    }
}
