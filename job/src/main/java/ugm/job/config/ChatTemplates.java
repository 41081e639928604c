package ugm.job.config;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The values of {@code chat_template}, with mergekit's rules: {@code auto} (the template most of
 * the merged models' tokenizers have), one of the template names mergekit knows, or a Jinja
 * template written out. A value that is not a known name is a template when it is at least 20
 * characters long and holds an opening brace; anything else is an error.
 *
 * <p>Each name's text is ugm's own Jinja for that public chat format (resources
 * {@code chat_templates/<name>.jinja}), with transformers' variables {@code messages},
 * {@code add_generation_prompt}, {@code bos_token} and {@code eos_token}:
 * alpaca (instruction and response sections), chatml ({@code <|im_start|>} and {@code <|im_end|>}
 * around each message), exaone (EXAONE 3's role markers), llama3 (header ids and end-of-turn
 * tokens) and mistral (Mistral Instruct v1: {@code [INST]} around the user's messages); each file
 * says the format it writes.
 */
public final class ChatTemplates {
    /** The names mergekit knows. */
    public static final List<String> NAMES = List.of("alpaca", "chatml", "exaone", "llama3", "mistral");
    /** The value that picks the models' most common template. */
    public static final String AUTO = "auto";

    private ChatTemplates() {
    }

    /** The template's text: the named one's, or {@code value} itself; null for {@code auto}. Checks it as {@link #check}. */
    public static String text(String value) {
        check(value);
        if (value.equals(AUTO)) {
            return null;
        }
        if (!NAMES.contains(value)) {
            return value;
        }
        try (InputStream in = ChatTemplates.class.getResourceAsStream("chat_templates/" + value + ".jinja")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Refuses a value that is neither auto, nor a known name, nor a template (mergekit's test), naming the nearest name. */
    public static void check(String value) {
        if (value.equals(AUTO) || NAMES.contains(value) || (value.length() >= 20 && value.contains("{"))) {
            return;
        }
        String hint = Suggest.nearest(value, NAMES);
        throw new ConfigException("chat_template '" + value + "' is not a template name ugm knows"
                + (hint == null ? "" : " (did you mean '" + hint + "'?)") + " nor a Jinja template; use auto, "
                + String.join(", ", NAMES) + ", or the template's text");
    }
}
