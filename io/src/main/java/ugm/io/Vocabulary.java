package ugm.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.CharacterCodingException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import ugm.core.UgmException;

/**
 * A tokenizer's vocabulary, token to id, as transformers' {@code get_vocab()} gives it: the
 * model's vocabulary and the added tokens. Read from the first of
 * <ul>
 *   <li>{@code tokenizer.json} (a fast tokenizer): {@code model.vocab}, a mapping of token to id
 *       (BPE, WordPiece, WordLevel) or a list of {@code [token, score]} whose index is the id
 *       (Unigram), then {@code added_tokens};</li>
 *   <li>{@code vocab.json} (a GPT-2 style tokenizer), then {@code added_tokens.json};</li>
 *   <li>{@code vocab.txt} (WordPiece): a token per line, the line's index its id;</li>
 * </ul>
 * then {@code tokenizer_config.json}'s {@code added_tokens_decoder} for tokens not already there.
 * Streamed: {@code tokenizer.json}'s merges are skipped, never held.
 */
public final class Vocabulary {
    private Vocabulary() {
    }

    /**
     * The vocabulary of the tokenizer among {@code files}, or null when they hold no tokenizer file
     * ({@link ModelFiles#isTokenizerFile}).
     *
     * @throws UgmException of kind INVALID_INPUT when the files are not valid, or hold a tokenizer
     *                      only as a sentencepiece model (which ugm does not read)
     */
    public static Map<String, Integer> read(ModelFiles files) {
        if (files.names().stream().noneMatch(ModelFiles::isTokenizerFile)) {
            return null;
        }
        Map<String, Integer> vocab = new LinkedHashMap<>();
        String name = files.has("tokenizer.json") ? "tokenizer.json" : files.has("vocab.json") ? "vocab.json"
                : files.has("vocab.txt") ? "vocab.txt" : null;
        if (name == null) {
            throw new UgmException(UgmException.Kind.INVALID_INPUT, "cannot read the vocabulary of the tokenizer in "
                    + files.folder() + ": ugm reads tokenizer.json, vocab.json or vocab.txt, and the folder has none");
        }
        String reading = name;
        try {
            switch (name) {
                case "tokenizer.json" -> fast(files, vocab);
                case "vocab.json" -> {
                    tokenIds(files, "vocab.json", vocab);
                    if (files.has("added_tokens.json")) {
                        reading = "added_tokens.json";
                        tokenIds(files, reading, vocab);
                    }
                }
                default -> lines(files, vocab);
            }
            if (files.has("tokenizer_config.json")) {
                reading = "tokenizer_config.json";
                addedTokensDecoder(files, vocab);
            }
        } catch (JsonProcessingException e) {
            throw invalid(files, reading, "not valid JSON: " + SafetensorsHeader.jsonProblem(e));
        } catch (CharacterCodingException e) {
            throw invalid(files, reading, "not valid UTF-8");
        } catch (IOException e) {
            throw Messages.io(files.folder().resolve(reading), "cannot read", e);
        }
        return vocab;
    }

    /**
     * A token a tokenizer adds to its model's vocabulary, with the settings transformers' {@code AddedToken} has:
     * whether it is special, matches only whole words, strips spaces on its left or right, and is matched after
     * normalization.
     */
    public record Added(String content, int id, boolean special, boolean singleWord, boolean lstrip, boolean rstrip,
                        boolean normalized) {

        /** A token transformers' {@code add_tokens} adds from its text alone: not special, normalized. */
        public static Added plain(String content, int id) {
            return new Added(content, id, false, false, false, false, true);
        }

        /** The same token with another id. */
        public Added withId(int newId) {
            return new Added(content, newId, special, singleWord, lstrip, rstrip, normalized);
        }

        /** Whether both have the same settings, whatever their ids. */
        public boolean sameSettings(Added o) {
            return withId(o.id).equals(o);
        }
    }

    /**
     * The added tokens of the tokenizer among {@code files}, in the order of their ids: {@code tokenizer.json}'s
     * {@code added_tokens}, else {@code tokenizer_config.json}'s {@code added_tokens_decoder}, else none. A setting
     * not given takes transformers' default (not special, normalized unless special).
     *
     * @throws UgmException of kind INVALID_INPUT when the file is not valid
     */
    public static List<Added> addedTokens(ModelFiles files) {
        String name = files.has("tokenizer.json") ? "tokenizer.json" : files.has("tokenizer_config.json")
                ? "tokenizer_config.json" : null;
        List<Added> out = new ArrayList<>();
        if (name == null) {
            return out;
        }
        try (JsonParser p = files.parser(name)) {
            startObject(p, files, name);
            String wanted = name.equals("tokenizer.json") ? "added_tokens" : "added_tokens_decoder";
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                boolean here = p.currentName().equals(wanted);
                JsonToken value = p.nextToken();
                if (!here || value != (name.equals("tokenizer.json") ? JsonToken.START_ARRAY : JsonToken.START_OBJECT)) {
                    p.skipChildren();
                    continue;
                }
                for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY && t != JsonToken.END_OBJECT; t = p.nextToken()) {
                    Integer id = null;
                    if (t == JsonToken.FIELD_NAME) {
                        id = addedId(files, name, p.currentName());
                        t = p.nextToken();
                    }
                    if (t != JsonToken.START_OBJECT) {
                        throw invalid(files, name, wanted + " holds " + t + " where a token's object belongs");
                    }
                    out.add(added(p, files, name, id));
                }
            }
        } catch (JsonProcessingException e) {
            throw invalid(files, name, "not valid JSON: " + SafetensorsHeader.jsonProblem(e));
        } catch (CharacterCodingException e) {
            throw invalid(files, name, "not valid UTF-8");
        } catch (IOException e) {
            throw Messages.io(files.folder().resolve(name), "cannot read", e);
        }
        out.sort(java.util.Comparator.comparingInt(Added::id));
        return out;
    }

    /** The added token whose object the parser is at the start of; {@code id} when given outside it. */
    private static Added added(JsonParser p, ModelFiles files, String name, Integer id) throws IOException {
        String content = null;
        Map<String, Boolean> flags = new java.util.HashMap<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String f = p.currentName();
            JsonToken v = p.nextToken();
            if (f.equals("content") && v == JsonToken.VALUE_STRING) {
                content = p.getText();
            } else if (f.equals("id") && v == JsonToken.VALUE_NUMBER_INT) {
                id = p.getIntValue();
            } else if (v.isBoolean()) {
                flags.put(f, v == JsonToken.VALUE_TRUE);
            } else {
                p.skipChildren();
            }
        }
        if (content == null || id == null) {
            throw invalid(files, name, "an added token has no content or id");
        }
        boolean special = flags.getOrDefault("special", false);
        return new Added(content, id, special, flags.getOrDefault("single_word", false), flags.getOrDefault("lstrip", false),
                flags.getOrDefault("rstrip", false), flags.getOrDefault("normalized", !special));
    }

    private static int addedId(ModelFiles files, String name, String key) {
        try {
            return Integer.parseInt(key);
        } catch (NumberFormatException e) {
            throw invalid(files, name, "added_tokens_decoder key '" + key + "' is not an id");
        }
    }

    private static void fast(ModelFiles files, Map<String, Integer> vocab) throws IOException {
        try (JsonParser p = files.parser("tokenizer.json")) {
            startObject(p, files, "tokenizer.json");
            Map<String, Integer> added = new LinkedHashMap<>();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                if (field.equals("model") && value == JsonToken.START_OBJECT) {
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        boolean isVocab = p.currentName().equals("vocab");
                        JsonToken v = p.nextToken();
                        if (isVocab && v == JsonToken.START_OBJECT) {
                            readTokenIds(p, files, "tokenizer.json", vocab);
                        } else if (isVocab && v == JsonToken.START_ARRAY) {
                            for (int id = 0; p.nextToken() == JsonToken.START_ARRAY; id++) {
                                if (p.nextToken() != JsonToken.VALUE_STRING) {
                                    throw invalid(files, "tokenizer.json", "model.vocab[" + id + "] is not [token, score]");
                                }
                                vocab.put(p.getText(), id);
                                for (JsonToken rest = p.nextToken(); rest != JsonToken.END_ARRAY; rest = p.nextToken()) {
                                    p.skipChildren(); // the score
                                }
                            }
                        } else {
                            p.skipChildren();
                        }
                    }
                } else if (field.equals("added_tokens") && value == JsonToken.START_ARRAY) {
                    while (p.nextToken() == JsonToken.START_OBJECT) {
                        Added a = added(p, files, "tokenizer.json", null);
                        added.put(a.content(), a.id());
                    }
                } else {
                    p.skipChildren();
                }
            }
            vocab.putAll(added); // an added token's id is the one it gets, as transformers' get_vocab() says
        }
    }

    /** A JSON object of token to id, like vocab.json. */
    private static void tokenIds(ModelFiles files, String name, Map<String, Integer> vocab) throws IOException {
        try (JsonParser p = files.parser(name)) {
            startObject(p, files, name);
            readTokenIds(p, files, name, vocab);
        }
    }

    /** The fields of the object the parser is at the start of, each a token and its id. */
    private static void readTokenIds(JsonParser p, ModelFiles files, String name, Map<String, Integer> vocab) throws IOException {
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String token = p.currentName();
            if (p.nextToken() != JsonToken.VALUE_NUMBER_INT) {
                throw invalid(files, name, "the id of token '" + token + "' is not a whole number");
            }
            vocab.put(token, p.getIntValue());
        }
    }

    private static void lines(ModelFiles files, Map<String, Integer> vocab) throws IOException {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(files.open("vocab.txt"), SafetensorsHeader.strictUtf8()))) {
            int id = 0;
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                vocab.putIfAbsent(line.strip(), id++);
            }
        }
    }

    private static void addedTokensDecoder(ModelFiles files, Map<String, Integer> vocab) throws IOException {
        try (JsonParser p = files.parser("tokenizer_config.json")) {
            startObject(p, files, "tokenizer_config.json");
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                boolean decoder = p.currentName().equals("added_tokens_decoder");
                if (p.nextToken() != JsonToken.START_OBJECT || !decoder) {
                    p.skipChildren();
                    continue;
                }
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String key = p.currentName();
                    int id;
                    try {
                        id = Integer.parseInt(key);
                    } catch (NumberFormatException e) {
                        throw invalid(files, "tokenizer_config.json", "added_tokens_decoder key '" + key + "' is not an id");
                    }
                    if (p.nextToken() != JsonToken.START_OBJECT) {
                        p.skipChildren();
                        continue;
                    }
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String f = p.currentName();
                        if (p.nextToken() == JsonToken.VALUE_STRING && f.equals("content")) {
                            vocab.putIfAbsent(p.getText(), id);
                        } else {
                            p.skipChildren();
                        }
                    }
                }
            }
        }
    }

    private static void startObject(JsonParser p, ModelFiles files, String name) throws IOException {
        if (p.nextToken() != JsonToken.START_OBJECT) {
            throw invalid(files, name, "not a JSON object");
        }
    }

    private static UgmException invalid(ModelFiles files, String name, String problem) {
        return new UgmException(UgmException.Kind.INVALID_INPUT, Messages.of(files.folder().resolve(name).toString(), null, problem));
    }
}
