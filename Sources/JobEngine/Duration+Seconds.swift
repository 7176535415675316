/// A `Duration` as a number of seconds, for APIs that take `TimeInterval` (`Thread.sleep`) and for
/// figures printed in seconds.
extension Duration {
    package var inSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
