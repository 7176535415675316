import JobEngine

/// Text from the store (names, errors) as a terminal may show it: control characters (an escape
/// sequence, a NUL that ends a name early, a newline that forges a line) appear as `\u{1B}`, so two
/// names never print alike and nothing printed can rewrite the operator's screen.
func terminalSafe(_ text: String) -> String {
    var safe = ""
    for scalar in text.unicodeScalars {
        if scalar.isUnprintable {
            safe += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
        } else {
            safe.unicodeScalars.append(scalar)
        }
    }
    return safe
}
