package ugm.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import ugm.core.UgmException;

/**
 * What a merge reads from a model folder's {@code config.json}: the architecture it names
 * ({@code architectures}, {@code model_type}) and {@code tie_word_embeddings}. A key that is
 * absent, or not of its type, is null. A key given twice counts once, the last time (as Python's
 * json module reads it).
 */
public record ModelConfig(Path file, List<String> architectures, String modelType, Boolean tieWordEmbeddings, Integer vocabSize) {

    /**
     * The {@code config.json} of the model at {@code model}, or null when there is none (a
     * checkpoint file, or a folder without one).
     *
     * @throws UgmException of kind INVALID_INPUT when it is not one JSON object, IO when it cannot be read
     */
    public static ModelConfig read(Path model) {
        Path file = model.resolve(ModelFiles.CONFIG);
        if (!Files.isDirectory(model) || !Files.isRegularFile(file)) {
            return null;
        }
        List<String> architectures = null;
        String modelType = null;
        Boolean tie = null;
        Integer vocabSize = null;
        Integer textVocabSize = null;
        try (JsonParser p = ModelFiles.JSON.createParser(new InputStreamReader(Files.newInputStream(file), SafetensorsHeader.strictUtf8()))) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw invalid(file, "not a JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                JsonToken value = p.nextToken();
                switch (key) {
                    case "architectures" -> architectures = strings(p, value);
                    case "model_type" -> modelType = value == JsonToken.VALUE_STRING ? p.getText() : null;
                    case "tie_word_embeddings" -> tie = value.isBoolean() ? value == JsonToken.VALUE_TRUE : null;
                    case "vocab_size" -> vocabSize = whole(p, value);
                    case "text_config" -> textVocabSize = value == JsonToken.START_OBJECT ? nestedVocabSize(p) : skip(p);
                    default -> p.skipChildren();
                }
            }
            if (p.nextToken() != null) {
                throw invalid(file, "not valid JSON: content follows the object (line " + p.currentLocation().getLineNr() + ")");
            }
        } catch (JsonProcessingException e) {
            throw invalid(file, "not valid JSON: " + SafetensorsHeader.jsonProblem(e));
        } catch (CharacterCodingException e) {
            throw invalid(file, "not valid UTF-8");
        } catch (IOException e) {
            throw Messages.io(file, "cannot read", e);
        }
        return new ModelConfig(file, architectures, modelType, tie, vocabSize != null ? vocabSize : textVocabSize);
    }

    /** A whole number that fits an int, else null. */
    private static Integer whole(JsonParser p, JsonToken value) throws IOException {
        if (value == JsonToken.VALUE_NUMBER_INT && p.getNumberType() == JsonParser.NumberType.INT) {
            return p.getIntValue();
        }
        return skip(p);
    }

    private static Integer skip(JsonParser p) throws IOException {
        p.skipChildren();
        return null;
    }

    /** The vocab_size of the object the parser is at the start of (its last), else null. */
    private static Integer nestedVocabSize(JsonParser p) throws IOException {
        Integer v = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            boolean key = p.currentName().equals("vocab_size");
            JsonToken value = p.nextToken();
            if (key) {
                v = whole(p, value);
            } else {
                p.skipChildren();
            }
        }
        return v;
    }

    /** A list of strings, else null (after skipping the value). */
    private static List<String> strings(JsonParser p, JsonToken value) throws IOException {
        if (value != JsonToken.START_ARRAY) {
            p.skipChildren();
            return null;
        }
        List<String> l = new ArrayList<>();
        boolean all = true;
        for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
            all &= t == JsonToken.VALUE_STRING;
            if (all) {
                l.add(p.getText());
            }
            p.skipChildren();
        }
        return all ? List.copyOf(l) : null;
    }

    private static UgmException invalid(Path file, String problem) {
        return new UgmException(UgmException.Kind.INVALID_INPUT, Messages.of(file.toString(), null, problem));
    }

    /** Whether it names an architecture at all. */
    public boolean namesArchitecture() {
        return architectures != null || modelType != null;
    }

    /**
     * Whether both name the same architecture: the {@code architectures} lists and the
     * {@code model_type}s are equal where both configs give them.
     */
    public boolean sameArchitecture(ModelConfig other) {
        return (architectures == null || other.architectures == null || architectures.equals(other.architectures))
                && (modelType == null || other.modelType == null || Objects.equals(modelType, other.modelType));
    }

    /** The architecture as a message names it: {@code LlamaForCausalLM (model_type llama)}, or the one key given. */
    public String architecture() {
        String type = modelType == null ? null : "model_type " + modelType;
        if (architectures == null) {
            return type;
        }
        String names = architectures.isEmpty() ? "[]" : String.join(", ", architectures);
        return type == null ? names : names + " (" + type + ")";
    }
}
