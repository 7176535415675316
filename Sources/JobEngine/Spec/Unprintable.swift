extension Unicode.Scalar {
    /// A character that prints nothing, or something other than itself: a control character (NUL, a
    /// newline, ESC of an escape sequence), a format character, a line or paragraph separator. Names
    /// may not hold one (two names would print alike), and the terminal output escapes them.
    package var isUnprintable: Bool {
        switch properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }
}
