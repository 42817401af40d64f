//! `netsem serve --stdio` end to end over a real pipe: the binary is spawned, requests are written
//! one at a time and each answer is read before the next request is sent (so answers are flushed
//! as they are made, not at exit), malformed lines are answered with errors and the server goes
//! on, and end of input stops it with exit 0. The byte-for-byte session is the case
//! `tests/cases/serve/session.toml`.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

fn ask(stdin: &mut impl Write, stdout: &mut impl BufRead, line: &str) -> Value {
    stdin.write_all(line.as_bytes()).expect("write a request");
    stdin.write_all(b"\n").expect("write a newline");
    stdin.flush().expect("flush the request");
    let mut answer = String::new();
    stdout.read_line(&mut answer).expect("read an answer");
    assert!(answer.ends_with('\n'), "one line per answer: {answer:?}");
    serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{answer:?}: {e}"))
}

#[test]
fn answers_each_request_as_it_comes_and_survives_malformed_lines() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut child = Command::new(env!("CARGO_BIN_EXE_netsem"))
        .args(["serve", "--stdio", "examples/shop"])
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("netsem starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));

    let hello = ask(
        &mut stdin,
        &mut stdout,
        r#"{"jsonrpc":"2.0","id":1,"method":"hello"}"#,
    );
    assert_eq!(hello["id"], 1);
    assert_eq!(hello["result"]["protocolVersion"], 1);

    let denied = ask(
        &mut stdin,
        &mut stdout,
        r#"{"jsonrpc":"2.0","id":"a","method":"decide","params":{"from":"frontend/admin-console","to":"backend/api","port":8080}}"#,
    );
    assert_eq!(denied["id"], "a");
    assert_eq!(denied["result"]["allowed"], false);

    for (line, code) in [
        ("not json at all", -32700),
        ("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":", -32700),
        ("{\"jsonrpc\":\"2.0\",\"id\":3}", -32600),
        (
            "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"frobnicate\"}",
            -32601,
        ),
        (
            "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"decide\",\"params\":{\"from\":\"nope\"}}",
            -32602,
        ),
        ("\u{1F600}", -32700),
    ] {
        let e = ask(&mut stdin, &mut stdout, line);
        assert_eq!(e["error"]["code"], code, "{line}: {e}");
    }

    // Still serving after the errors.
    let allowed = ask(
        &mut stdin,
        &mut stdout,
        r#"{"jsonrpc":"2.0","id":6,"method":"decide","params":{"from":"backend/api","to":"backend/cache","port":6379}}"#,
    );
    assert_eq!(allowed["result"]["allowed"], true);

    drop(stdin);
    let status = child.wait().expect("netsem exits");
    assert!(status.success(), "{status}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("the rest of stdout");
    assert!(rest.is_empty(), "nothing but answers: {rest:?}");
}
