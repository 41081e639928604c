package ugm.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.UgmException;

/** A tokenizer's vocabulary read from each of the files transformers saves it in; which files count as the tokenizer's. */
class VocabularyTest {
    @TempDir
    Path dir;

    Map<String, Integer> read(String... nameThenText) throws IOException {
        for (int i = 0; i < nameThenText.length; i += 2) {
            Files.writeString(dir.resolve(nameThenText[i]), nameThenText[i + 1]);
        }
        return Vocabulary.read(ModelFiles.scan(dir));
    }

    @Test
    void aBpeTokenizerJsonGivesItsVocabularyAndAddedTokens() throws IOException {
        Map<String, Integer> v = read("tokenizer.json", """
                {"version": "1.0", "truncation": null,
                 "added_tokens": [{"id": 3, "content": "<|end|>", "special": true, "normalized": false},
                                  {"content": "<s>", "id": 0}],
                 "normalizer": {"type": "NFC"},
                 "model": {"type": "BPE", "dropout": null, "vocab": {"<s>": 0, "a": 1, "b": 2},
                           "merges": ["a b", ["b", "a"]]}}
                """);
        assertEquals(Map.of("<s>", 0, "a", 1, "b", 2, "<|end|>", 3), v);
    }

    @Test
    void aUnigramTokenizerJsonNumbersItsPiecesInOrder() throws IOException {
        Map<String, Integer> v = read("tokenizer.json", """
                {"model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["\u2581the", -3.5], ["s", -4.25]]},
                 "added_tokens": []}
                """);
        assertEquals(Map.of("<unk>", 0, "\u2581the", 1, "s", 2), v);
    }

    @Test
    void vocabJsonWithAddedTokensAndTheConfigsDecoder() throws IOException {
        Map<String, Integer> v = read("vocab.json", "{\"x\": 0, \"y\": 1}", "added_tokens.json", "{\"<pad>\": 2}",
                "merges.txt", "#version: 0.2\nx y\n",
                "tokenizer_config.json", """
                {"added_tokens_decoder": {"2": {"content": "<other>"}, "3": {"content": "<eos>", "special": true}},
                 "chat_template": "{{ x }}"}
                """);
        assertEquals(Map.of("x", 0, "y", 1, "<pad>", 2, "<other>", 2, "<eos>", 3), v);
    }

    @Test
    void vocabTxtIsATokenPerLine() throws IOException {
        assertEquals(Map.of("[PAD]", 0, "[UNK]", 1, "hello", 2), read("vocab.txt", "[PAD]\n[UNK]\nhello\n"));
    }

    @Test
    void noTokenizerFileIsNoVocabulary() throws IOException {
        assertNull(read("config.json", "{}", "generation_config.json", "{}"));
    }

    @Test
    void aSentencepieceModelAloneOrABrokenFileIsOneLineNamingTheFile() throws IOException {
        UgmException e = assertThrows(UgmException.class, () -> read("tokenizer.model", "\u0000binary", "tokenizer_config.json", "{}"));
        assertEquals(UgmException.Kind.INVALID_INPUT, e.kind());
        assertEquals("cannot read the vocabulary of the tokenizer in " + dir
                + ": ugm reads tokenizer.json, vocab.json or vocab.txt, and the folder has none", e.getMessage());
        Files.delete(dir.resolve("tokenizer.model"));
        e = assertThrows(UgmException.class, () -> read("tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 0,}}}"));
        assertEquals(UgmException.Kind.INVALID_INPUT, e.kind());
        assertTrue(e.getMessage().startsWith(dir.resolve("tokenizer.json") + ": not valid JSON"), e.getMessage());
        e = assertThrows(UgmException.class, () -> read("tokenizer.json", "{\"model\": {\"vocab\": {\"a\": \"zero\"}}}"));
        assertEquals(dir.resolve("tokenizer.json") + ": the id of token 'a' is not a whole number", e.getMessage());
    }

    @Test
    void tokenizerFilesAreThoseTransformersAndMergekitSaveWithATokenizer() {
        for (String n : List.of("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json",
                "added_tokens.json", "merges.txt", "vocab.json", "vocab.txt", "spiece.model", "chat_template.jinja",
                "chat_template.json", "tokenization_custom.py")) {
            assertTrue(ModelFiles.isTokenizerFile(n), n);
        }
        for (String n : List.of("config.json", "generation_config.json", "preprocessor_config.json", "modeling_custom.py")) {
            assertTrue(!ModelFiles.isTokenizerFile(n), n);
        }
    }
}
