package ugm.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** One in-process run of the command line, with what it printed. */
record Run(int code, String out, String err) {

    static Run of(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Cli.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Run(code, out.toString(), err.toString());
    }

    /** The error output as one line, asserting there is exactly one. */
    String errLine() {
        String e = err.strip();
        if (e.isEmpty() || e.contains("\n")) {
            throw new AssertionError("expected one line on stderr, got: <" + err + ">");
        }
        return e;
    }

    @Override
    public String toString() {
        return "exit " + code + "\n--- out\n" + out + "--- err\n" + err;
    }
}
