package ugm.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.UgmException;

class ModelConfigTest {
    @TempDir
    Path tmp;

    private ModelConfig read(String json) throws IOException {
        Files.writeString(tmp.resolve("config.json"), json);
        return ModelConfig.read(tmp);
    }

    @Test
    void readsTheArchitectureAndTheTie() throws IOException {
        ModelConfig c = read("""
                {"architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "rope_scaling": {"type": "linear", "factor": [1, 2]},
                 "model_type": "llama", "tie_word_embeddings": false, "torch_dtype": NaN}""");
        assertEquals(List.of("LlamaForCausalLM"), c.architectures());
        assertEquals("llama", c.modelType());
        assertEquals(Boolean.FALSE, c.tieWordEmbeddings());
        assertEquals("LlamaForCausalLM (model_type llama)", c.architecture());
        assertNull(c.vocabSize());
    }

    @Test
    void vocabSizeIsTheTopLevelOneElseTextConfigs() throws IOException {
        assertEquals(32000, read("{\"text_config\": {\"vocab_size\": 7}, \"vocab_size\": 32000}").vocabSize());
        assertEquals(7, read("{\"text_config\": {\"hidden\": {\"vocab_size\": 9}, \"vocab_size\": 7}}").vocabSize());
        assertNull(read("{\"vocab_size\": 1.5, \"text_config\": [1]}").vocabSize());
        assertNull(read("{\"vocab_size\": 99999999999}").vocabSize());
    }

    @Test
    void theLastOfTwoKeysCountsAndOddTypesAreAbsent() throws IOException {
        ModelConfig c = read("{\"model_type\": \"llama\", \"model_type\": \"mistral\", \"architectures\": [\"A\", 1], \"tie_word_embeddings\": 1}");
        assertEquals("mistral", c.modelType());
        assertNull(c.architectures());
        assertNull(c.tieWordEmbeddings());
        assertEquals("model_type mistral", c.architecture());
        assertEquals("A, B", new ModelConfig(tmp, List.of("A", "B"), null, null, null).architecture());
        assertFalse(read("{\"hidden_size\": 2}").namesArchitecture());
    }

    @Test
    void architecturesCompareWhereBothGiveThem() throws IOException {
        ModelConfig llama = new ModelConfig(tmp, List.of("LlamaForCausalLM"), "llama", null, null);
        assertTrue(llama.sameArchitecture(new ModelConfig(tmp, List.of("LlamaForCausalLM"), null, null, null)));
        assertTrue(llama.sameArchitecture(new ModelConfig(tmp, null, "llama", true, null)));
        assertFalse(llama.sameArchitecture(new ModelConfig(tmp, List.of("MistralForCausalLM"), "llama", null, null)));
        assertFalse(llama.sameArchitecture(new ModelConfig(tmp, List.of("LlamaForCausalLM"), "mistral", null, null)));
    }

    @Test
    void noConfigIsNullAndABadOneIsNamed() throws IOException {
        assertNull(ModelConfig.read(tmp));
        Files.writeString(tmp.resolve("model.safetensors"), "");
        assertNull(ModelConfig.read(tmp.resolve("model.safetensors")));
        for (String bad : List.of("[1]", "{\"a\": 1} {}", "{\"a\": ")) {
            Files.writeString(tmp.resolve("config.json"), bad);
            UgmException e = assertThrows(UgmException.class, () -> ModelConfig.read(tmp));
            assertEquals(UgmException.Kind.INVALID_INPUT, e.kind());
            assertTrue(e.getMessage().startsWith(tmp.resolve("config.json").toString()), e.getMessage());
        }
    }
}
