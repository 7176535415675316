/// The Jobs page's style sheet: readable tables, visible focus, status shown in words and colour.
enum PageStyle {
    static let source = """
        :root { font-family: system-ui, sans-serif; color: #1b1b1b; background: #fff; }
        body { margin: 0; }
        header { background: #1f3a5f; padding: 0.6rem 1rem; }
        header .brand { color: #fff; font-weight: 600; text-decoration: none; }
        main { padding: 1rem; max-width: 80rem; }
        table { border-collapse: collapse; width: 100%; margin: 0.5rem 0; }
        caption { text-align: left; color: #444; padding: 0.3rem 0; }
        th, td { border-bottom: 1px solid #ccc; padding: 0.35rem 0.5rem; text-align: left; vertical-align: top; }
        th { background: #f1f3f5; }
        td.count, td.attempt, td.collected, td.ingested, td.collected-total { text-align: right; font-variant-numeric: tabular-nums; }
        .status-failed, .state-needs-attention { color: #a4000f; font-weight: 600; }
        .status-succeeded, .state-done { color: #0b6b2b; }
        .status-running, .status-pending, .state-active { color: #7a4b00; }
        .error-text { color: #5a0007; max-width: 30rem; overflow-wrap: anywhere; }
        #message { min-height: 1.4em; }
        #message.error { color: #a4000f; font-weight: 600; }
        .toolbar, .pager, .actions { display: flex; gap: 0.5rem; align-items: center; margin: 0.5rem 0; }
        button, select, input { font: inherit; }
        button { padding: 0.3rem 0.8rem; }
        :focus-visible { outline: 3px solid #1a5fb4; outline-offset: 2px; }
        details.menu { margin: 0.5rem 0; }
        details.menu ul { list-style: none; padding: 0.3rem 0; margin: 0; display: flex; gap: 0.5rem; }
        dialog { max-width: 34rem; }
        fieldset { border: 1px solid #ccc; }
        .choice { margin: 0.4rem 0; }
        .choice p { margin: 0.1rem 0 0 1.6rem; color: #444; }
        button.link { background: none; border: none; padding: 0; color: #1a4fa0; text-decoration: underline; cursor: pointer; }
        #item-detail { border-top: 1px solid #ccc; margin-top: 1rem; }
        #key-form { border: 1px solid #ccc; padding: 0.8rem; margin-bottom: 1rem; max-width: 30rem; }
        """
}
