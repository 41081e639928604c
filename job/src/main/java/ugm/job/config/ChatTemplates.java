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
 * characters long and holds a {@code {}; anything else is an error.
 *
 * <p>Each name's text is ugm's own Jinja for that public chat format (resources
 * {@code chat_templates/<name>.jinja}), with transformers' variables {@code messages},
 * {@code add_generation_prompt}, {@code bos_token} and {@code eos_token}:
 * <ul>
 *   <li>{@code alpaca}: the system text, then {@code ### Instruction:\n<user>\n\n} and
 *       {@code ### Response:\n<assistant><eos>\n\n}; the prompt {@code ### Response:\n};</li>
 *   <li>{@code chatml}: {@code <|im_start|><role>\n<content><|im_end|>\n}; the prompt
 *       {@code <|im_start|>assistant\n};</li>
 *   <li>{@code exaone} (EXAONE 3): {@code [|system|]<content>[|endofturn|]\n},
 *       {@code [|user|]<content>\n}, {@code [|assistant|]<content>[|endofturn|]\n}; the prompt
 *       {@code [|assistant|]};</li>
 *   <li>{@code llama3}: {@code <bos>}, then {@code <|start_header_id|><role><|end_header_id|>\n\n<content,
 *       trimmed><|eot_id|>}; the prompt {@code <|start_header_id|>assistant<|end_header_id|>\n\n};</li>
 *   <li>{@code mistral} (Mistral Instruct v1): {@code <bos>[INST] <user> [/INST]} and
 *       {@code  <assistant><eos>}, a system message put before the first user message, roles
 *       alternating from the user's.</li>
 * </ul>
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
