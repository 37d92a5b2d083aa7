package org.wrpn.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wrpn.BadInputException;
import org.wrpn.train.NamedArray.Dtype;

class SafetensorsTest {
    @TempDir
    Path dir;

    private static final float[] SPECIAL_FLOATS = {
        Float.intBitsToFloat(0x7fc00000), // canonical NaN
        Float.intBitsToFloat(0x7fc12345), // quiet NaN with payload
        Float.intBitsToFloat(0xffc00001), // negative NaN with payload
        Float.intBitsToFloat(0x7f800001), // signalling NaN
        -0.0f, 0.0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
        Float.MIN_VALUE, Float.MAX_VALUE, 1.5f, -3.25e-7f
    };

    private static List<NamedArray> sampleTensors() {
        return List.of(
                NamedArray.f32("layer1.weight", new int[] {3, 4}, SPECIAL_FLOATS),
                NamedArray.i32("labels", new int[] {5}, new int[] {0, -1, Integer.MIN_VALUE, Integer.MAX_VALUE, 42}),
                NamedArray.i64("step", new int[] {}, new long[] {Long.MIN_VALUE}),
                NamedArray.i64("rng", new int[] {3}, new long[] {Long.MAX_VALUE, -2, 0x0123456789abcdefL}),
                NamedArray.f32("scale", new int[] {}, new float[] {-0.0f}),
                NamedArray.i32("empty", new int[] {0, 7}, new int[0]),
                NamedArray.f64("f64", new int[] {2}, new double[] {Double.longBitsToDouble(0x7ff8000000000abcL), -0.0}),
                NamedArray.i8("codes", new int[] {1, 3}, new byte[] {-128, 0, 127}),
                NamedArray.u8("mask", new int[] {2}, new byte[] {(byte) 255, 1}));
    }

    @Test
    void roundTripPreservesEveryBitAndOrder() throws IOException {
        List<NamedArray> tensors = sampleTensors();
        for (Map<String, String> metadata : List.of(Map.<String, String>of(), metadataSample())) {
            Path file = dir.resolve("model.safetensors");
            Safetensors.write(file, tensors, metadata);
            Safetensors.Contents contents = Safetensors.read(file);
            assertEquals(tensors.stream().map(NamedArray::name).toList(), List.copyOf(contents.tensors().keySet()));
            for (NamedArray t : tensors) assertEquals(t, contents.tensor(t.name()));
            assertEquals(metadata, contents.metadata());
            int[] expectedBits = new int[SPECIAL_FLOATS.length];
            int[] actualBits = new int[SPECIAL_FLOATS.length];
            float[] read = contents.floats("layer1.weight");
            for (int i = 0; i < SPECIAL_FLOATS.length; i++) {
                expectedBits[i] = Float.floatToRawIntBits(SPECIAL_FLOATS[i]);
                actualBits[i] = Float.floatToRawIntBits(read[i]);
            }
            assertArrayEquals(expectedBits, actualBits);
            assertArrayEquals(new int[] {}, contents.tensor("step").shape());
            assertEquals(Long.MIN_VALUE, contents.longs("step")[0]);
        }
    }

    private static Map<String, String> metadataSample() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("format", "pt");
        m.put("config", "{\"k\": 4, \"note\": \"quotes \\\" and\\nnewline, ünïcødé ✓\"}");
        m.put("", "empty key");
        return m;
    }

    @Test
    void largeTensorsSpanningSeveralChunksRoundTrip() throws IOException {
        int n = 700_001; // > 1 MiB of floats and of longs
        float[] f = new float[n];
        long[] l = new long[n];
        for (int i = 0; i < n; i++) {
            f[i] = Float.intBitsToFloat(i * 0x9E3779B9);
            l[i] = i * 0x9E3779B97F4A7C15L;
        }
        Path file = dir.resolve("big.safetensors");
        List<NamedArray> tensors = List.of(
                NamedArray.u8("odd", new int[] {3}, new byte[] {1, 2, 3}),
                NamedArray.f32("f", new int[] {n}, f),
                NamedArray.i64("l", new int[] {1, n}, l));
        Safetensors.write(file, tensors, null);
        Safetensors.Contents c = Safetensors.read(file);
        for (NamedArray t : tensors) assertEquals(t, c.tensor(t.name()));
    }

    @Test
    void exactByteLayoutOfTinyFile() throws IOException {
        Path file = dir.resolve("tiny.safetensors");
        Map<String, NamedArray> tensors = new LinkedHashMap<>();
        tensors.put("a", NamedArray.f32("a", new int[] {2}, new float[] {1.0f, -2.0f}));
        tensors.put("b", NamedArray.i32("b", new int[] {}, new int[] {7}));
        Safetensors.write(file, tensors, Map.of("k", "v"));

        String json = "{\"__metadata__\":{\"k\":\"v\"},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[8,12]}}";
        assertEquals(132, json.length());
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        expected.writeBytes(HexFormat.of().parseHex("8800000000000000")); // 136 = 132 + 4 spaces
        expected.writeBytes(json.getBytes(StandardCharsets.US_ASCII));
        expected.writeBytes("    ".getBytes(StandardCharsets.US_ASCII));
        expected.writeBytes(HexFormat.of().parseHex("0000803f" + "000000c0" + "07000000"));
        byte[] actual = Files.readAllBytes(file);
        assertEquals(156, actual.length);
        assertEquals(HexFormat.of().formatHex(expected.toByteArray()), HexFormat.of().formatHex(actual));
    }

    @Test
    void headerIsAlwaysPaddedToEightBytes() throws IOException {
        for (int nameLength = 1; nameLength <= 9; nameLength++) {
            Path file = dir.resolve("pad" + nameLength);
            String name = "x".repeat(nameLength);
            Safetensors.write(file, List.of(NamedArray.f32(name, new int[] {1}, new float[] {1})), Map.of());
            byte[] bytes = Files.readAllBytes(file);
            long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
            assertEquals(0, n % 8, "header length " + n);
            assertEquals(8 + n + 4, bytes.length);
            String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
            assertTrue(header.stripTrailing().endsWith("}"), header);
            assertTrue(header.substring(header.stripTrailing().length()).matches(" {0,7}"), header);
            assertEquals(name, Safetensors.read(file).tensors().firstEntry().getKey());
        }
    }

    @Test
    void readsHandBuiltFileFromAnotherWriter() throws IOException {
        // Reference-style file: tensors listed in another order than their offsets, whitespace in JSON.
        String json = "{ \"b\": {\"dtype\": \"I32\", \"shape\": [2], \"data_offsets\": [4, 12]},\n"
                + "  \"__metadata__\": {\"format\": \"np\"},\n"
                + "  \"a\": {\"shape\": [], \"dtype\": \"F32\", \"data_offsets\": [0, 4]} }";
        byte[] data = HexFormat.of().parseHex("0000c07f" + "01000000" + "feffffff");
        Path file = fileWith(json, data);
        Safetensors.Contents c = Safetensors.read(file);
        assertEquals(List.of("b", "a"), List.copyOf(c.tensors().keySet()));
        assertArrayEquals(new int[] {1, -2}, c.ints("b"));
        assertEquals(0x7fc00000, Float.floatToRawIntBits(c.floats("a")[0]));
        assertEquals(Map.of("format", "np"), c.metadata());
    }

    // ---- interoperability with numpy (skipped when numpy is not importable)

    private static final String NUMPY_READER = """
            import json, struct, sys
            import numpy as np
            raw = open(sys.argv[1], 'rb').read()
            n = struct.unpack('<Q', raw[:8])[0]
            assert (8 + n) % 8 == 0
            header = json.loads(raw[8:8 + n].decode('utf-8'))
            data = raw[8 + n:]
            kinds = {'F32': '<f4', 'F64': '<f8', 'I8': 'i1', 'U8': 'u1', 'I32': '<i4', 'I64': '<i8'}
            out = {'__metadata__': header.pop('__metadata__', {})}
            for name, info in header.items():
                b, e = info['data_offsets']
                a = np.frombuffer(data[b:e], dtype=kinds[info['dtype']]).reshape(info['shape'])
                view = {'F32': '<u4', 'F64': '<u8'}.get(info['dtype'])
                values = a.view(view) if view else a
                out[name] = {'dtype': info['dtype'], 'shape': list(a.shape),
                             'values': [int(v) for v in values.reshape(-1)]}
            print(json.dumps(out))
            """;

    private static final String NUMPY_WRITER = """
            import json, struct, sys
            import numpy as np
            tensors = {
                'w': np.array([[1.5, -0.0], [np.inf, np.nan]], dtype=np.float32),
                'idx': np.array([3, -4, 2**31 - 1], dtype=np.int32),
                'count': np.array(2**40 + 3, dtype=np.int64),
            }
            header = {'__metadata__': {'source': 'numpy'}}
            blobs, offset = [], 0
            for name, a in tensors.items():
                kind = {'float32': 'F32', 'int32': 'I32', 'int64': 'I64'}[str(a.dtype)]
                blob = a.astype(a.dtype.newbyteorder('<')).tobytes()
                header[name] = {'dtype': kind, 'shape': list(a.shape), 'data_offsets': [offset, offset + len(blob)]}
                blobs.append(blob)
                offset += len(blob)
            h = json.dumps(header, separators=(',', ':')).encode('utf-8')
            h += b' ' * ((8 - len(h) % 8) % 8)
            with open(sys.argv[1], 'wb') as f:
                f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
            """;

    @Test
    void numpyReadsWhatWeWrite() throws Exception {
        assumeNumpy();
        Path file = dir.resolve("to-numpy.safetensors");
        List<NamedArray> tensors = sampleTensors();
        Safetensors.write(file, tensors, metadataSample());
        String output = python(NUMPY_READER, file.toString());
        var root = new com.fasterxml.jackson.databind.ObjectMapper().readTree(output);
        assertEquals(metadataSample().get("config"), root.get("__metadata__").get("config").textValue());
        for (NamedArray t : tensors) {
            var node = root.get(t.name());
            assertEquals(t.dtype().name(), node.get("dtype").textValue());
            assertEquals(Arrays.toString(t.shape()), node.get("shape").toString().replace(",", ", "));
            long[] values = new long[node.get("values").size()];
            for (int i = 0; i < values.length; i++) values[i] = node.get("values").get(i).longValue();
            assertArrayEquals(valuesAsLongs(t), values, t.name());
        }
    }

    @Test
    void weReadWhatNumpyWrites() throws Exception {
        assumeNumpy();
        Path file = dir.resolve("from-numpy.safetensors");
        python(NUMPY_WRITER, file.toString());
        Safetensors.Contents c = Safetensors.read(file);
        assertEquals(Map.of("source", "numpy"), c.metadata());
        NamedArray w = c.expect("w", Dtype.F32, 2, 2);
        assertEquals(1.5f, w.floats()[0]);
        assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(w.floats()[1]));
        assertEquals(Float.POSITIVE_INFINITY, w.floats()[2]);
        assertTrue(Float.isNaN(w.floats()[3]));
        assertArrayEquals(new int[] {3, -4, Integer.MAX_VALUE}, c.expect("idx", Dtype.I32, 3).ints());
        assertArrayEquals(new long[] {(1L << 40) + 3}, c.expect("count", Dtype.I64).longs());
    }

    private static long[] valuesAsLongs(NamedArray t) {
        long[] out = new long[t.elementCount()];
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (t.dtype()) {
                case F32 -> Integer.toUnsignedLong(Float.floatToRawIntBits(t.floats()[i]));
                case F64 -> Double.doubleToRawLongBits(t.doubles()[i]);
                case I8 -> t.bytes()[i];
                case U8 -> Byte.toUnsignedInt(t.bytes()[i]);
                case I32 -> t.ints()[i];
                case I64 -> t.longs()[i];
            };
        }
        return out;
    }

    private static void assumeNumpy() {
        boolean available;
        try {
            Process p = new ProcessBuilder("python3", "-c", "import numpy").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            available = p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            available = false;
        }
        Assumptions.assumeTrue(available, "python3 with numpy not available");
    }

    private String python(String script, String arg) throws Exception {
        Path scriptFile = dir.resolve("script.py");
        Files.writeString(scriptFile, script);
        Process p = new ProcessBuilder("python3", scriptFile.toString(), arg).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "python timed out");
        assertEquals(0, p.exitValue(), output);
        return output;
    }

    // ---- corruption

    @Test
    void everyTruncationIsBadInput() throws IOException {
        Path file = dir.resolve("whole.safetensors");
        Safetensors.write(file, sampleTensors(), metadataSample());
        byte[] whole = Files.readAllBytes(file);
        for (int length = 0; length < whole.length; length++) {
            Path cut = dir.resolve("cut.safetensors");
            Files.write(cut, Arrays.copyOf(whole, length));
            assertBad(cut, null);
        }
    }

    @Test
    void appendedBytesAreBadInput() throws IOException {
        Path file = dir.resolve("whole.safetensors");
        Safetensors.write(file, sampleTensors(), Map.of());
        Files.write(file, new byte[] {0}, java.nio.file.StandardOpenOption.APPEND);
        assertBad(file, "1 trailing bytes");
    }

    @Test
    void flippedHeaderBytesGiveBadInputOrAValidFile() throws IOException {
        Path file = dir.resolve("flip.safetensors");
        Safetensors.write(file, sampleTensors(), metadataSample());
        byte[] whole = Files.readAllBytes(file);
        int headerEnd = 8 + (int) ByteBuffer.wrap(whole).order(ByteOrder.LITTLE_ENDIAN).getLong();
        int bad = 0;
        Path flipped = dir.resolve("flipped.safetensors");
        for (int i = 0; i < headerEnd; i++) {
            for (int mask : new int[] {0x01, 0x04, 0x20, 0x80}) {
                byte[] copy = whole.clone();
                copy[i] ^= (byte) mask;
                Files.write(flipped, copy);
                try {
                    Safetensors.read(flipped); // e.g. a renamed tensor or F32 -> F64 mislabel can still be valid
                } catch (BadInputException e) {
                    assertOneLineNamingFile(flipped, e);
                    bad++;
                } catch (RuntimeException | IOException e) {
                    fail("flip of byte " + i + " with " + mask + " threw " + e, e);
                }
            }
        }
        assertTrue(bad > headerEnd * 2, "most flips must be rejected, got " + bad);
    }

    @Test
    void headerLengthProblems() throws IOException {
        assertBad(write("empty", new byte[0]), "shorter than");
        assertBad(write("seven", new byte[7]), "shorter than");
        assertBad(write("zero-length-header", le(0)), "not a JSON object");
        assertBad(write("too-long", concat(le(100), "{}".getBytes(StandardCharsets.US_ASCII))), "exceeds");
        assertBad(write("absurd", concat(le(200_000_000L), new byte[64])), "absurd");
        assertBad(write("negative", concat(le(-1L), new byte[64])), "absurd");
    }

    @Test
    void malformedJsonHeaders() throws IOException {
        assertBad(fileWith("{\"a\":", new byte[0]), "not valid JSON");
        assertBad(fileWith("[1, 2]", new byte[0]), "not a JSON object");
        assertBad(fileWith("\"text\"", new byte[0]), "not a JSON object");
        assertBad(fileWith("null", new byte[0]), "not a JSON object");
        assertBad(fileWith("{} {}", new byte[0]), "not valid JSON");
        assertBad(fileWith("{\"a\": 1, \"a\": 2}", new byte[0]), "not valid JSON");
        assertBad(fileWith("{'a': 1}", new byte[0]), "not valid JSON");
        byte[] invalidUtf8 = concat(le(8), new byte[] {'{', '"', (byte) 0xff, '"', ':', '1', '}', ' '});
        assertBad(write("utf8", invalidUtf8), "UTF-8");
    }

    @Test
    void inconsistentTensorEntries() throws IOException {
        byte[] eight = new byte[8];
        assertBad(fileWith(tensor("a", "F16", "[4]", "[0, 8]"), eight), "unsupported dtype 'F16'");
        assertBad(fileWith(tensor("a", "f32", "[2]", "[0, 8]"), eight), "unsupported dtype");
        assertBad(fileWith(tensor("a", "F32", "[3]", "[0, 8]"), eight), "needs 12");
        assertBad(fileWith(tensor("a", "F32", "[-2]", "[0, 8]"), eight), "non-negative");
        assertBad(fileWith(tensor("a", "F32", "[2.0]", "[0, 8]"), eight), "non-negative");
        assertBad(fileWith(tensor("a", "F32", "[\"2\"]", "[0, 8]"), eight), "non-negative");
        assertBad(fileWith(tensor("a", "F32", "2", "[0, 8]"), eight), "shape");
        assertBad(fileWith(tensor("a", "F32", "[4294967296, 0]", "[0, 0]"), new byte[0]), "too large");
        assertBad(fileWith(tensor("a", "I8", "[65536, 65536]", "[0, 8]"), eight), "too many elements");
        assertBad(fileWith(tensor("a", "F32", "[2]", "[8, 0]"), eight), "end before begin");
        assertBad(fileWith(tensor("a", "F32", "[2]", "[0, 8, 16]"), eight), "data_offsets");
        assertBad(fileWith(tensor("a", "F32", "[2]", "[-8, 0]"), eight), "non-negative");
        assertBad(fileWith(tensor("a", "F32", "[2]", "[0, 99999999999999999999]"), eight), "non-negative");
        assertBad(fileWith(tensor("a", "F32", "[2]", "[4, 12]"), eight), "exceed");
        assertBad(fileWith(tensor("a", "F32", "[2]", "[0, 8]"), new byte[4]), "exceed");
        assertBad(fileWith(tensor("a", "F32", "[1]", "[0, 4]"), eight), "4 trailing bytes");
        assertBad(fileWith(tensor("a", "F32", "[1]", "[4, 8]"), eight), "belong to no tensor");
        assertBad(fileWith("{\"a\": {\"dtype\": \"F32\", \"shape\": [2]}}", eight), "data_offsets");
        assertBad(fileWith("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8], \"x\": 1}}", eight),
                "unknown field 'x'");
        assertBad(fileWith("{\"a\": [1]}", eight), "not a JSON object");
        assertBad(fileWith("{\"__metadata__\": {\"k\": 1}}", new byte[0]), "not a string");
        assertBad(fileWith("{\"__metadata__\": [\"k\"]}", new byte[0]), "__metadata__");
        String a = "\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}";
        String b = "\"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}";
        assertBad(fileWith("{" + a + ", " + b + "}", new byte[12]), "overlaps");
        String c = "\"c\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}";
        assertBad(fileWith("{" + a + ", " + c + "}", new byte[16]), "overlaps");
        String newline = "{\"bad\\nname\": {\"dtype\": \"X\", \"shape\": [], \"data_offsets\": [0, 0]}}";
        assertBad(fileWith(newline, new byte[0]), "unsupported dtype");
    }

    @Test
    void missingFileAndDirectoryAreBadInput() {
        assertBad(dir.resolve("nope.safetensors"), "no such file");
        assertBad(dir, "not a regular file");
    }

    @Test
    void typedAccessorsRejectMismatchesNamingTheFile() throws IOException {
        Path file = dir.resolve("ckpt.safetensors");
        Safetensors.write(file, sampleTensors(), Map.of());
        Safetensors.Contents c = Safetensors.read(file);
        assertMessage(file, assertThrows(BadInputException.class, () -> c.tensor("missing")), "no tensor 'missing'");
        assertMessage(file, assertThrows(BadInputException.class, () -> c.ints("layer1.weight")), "is F32, expected I32");
        assertMessage(file, assertThrows(BadInputException.class, () -> c.expect("layer1.weight", Dtype.F32, 4, 3)),
                "expected F32[4, 3]");
        assertEquals(12, c.expect("layer1.weight", Dtype.F32, 3, 4).elementCount());
    }

    @Test
    void writerRejectsProgrammingErrors() {
        NamedArray a = NamedArray.f32("a", new int[] {1}, new float[] {1});
        Path file = dir.resolve("x.safetensors");
        assertThrows(IllegalArgumentException.class, () -> Safetensors.write(file, Map.of("b", a), Map.of()));
        assertThrows(IllegalArgumentException.class, () -> Safetensors.write(file, List.of(a, a), Map.of()));
        assertThrows(IllegalArgumentException.class, () -> Safetensors.write(file,
                List.of(NamedArray.f32("__metadata__", new int[] {1}, new float[] {1})), Map.of()));
        assertThrows(IllegalArgumentException.class, () -> NamedArray.f32("a", new int[] {2}, new float[] {1}));
        assertThrows(IllegalArgumentException.class, () -> NamedArray.f32("a", new int[] {-1}, new float[0]));
        assertThrows(IllegalStateException.class, () -> a.ints());
        assertFalse(Files.exists(file));
    }

    // ---- helpers

    private static String tensor(String name, String dtype, String shape, String offsets) {
        return "{\"" + name + "\": {\"dtype\": \"" + dtype + "\", \"shape\": " + shape + ", \"data_offsets\": " + offsets + "}}";
    }

    private int fileCounter;

    /** A file with this header (space-padded to 8 bytes) and data buffer. */
    private Path fileWith(String json, byte[] data) throws IOException {
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        int padded = (header.length + 7) / 8 * 8;
        byte[] paddedHeader = Arrays.copyOf(header, padded);
        Arrays.fill(paddedHeader, header.length, padded, (byte) ' ');
        return write("case" + fileCounter++, concat(le(padded), paddedHeader, data));
    }

    private Path write(String name, byte[] bytes) throws IOException {
        Path file = dir.resolve(name + ".safetensors");
        Files.write(file, bytes);
        return file;
    }

    private static byte[] le(long value) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value).array();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) out.writeBytes(p);
        return out.toByteArray();
    }

    private static void assertBad(Path file, String fragment) {
        BadInputException e = assertThrows(BadInputException.class, () -> Safetensors.read(file),
                () -> file + " should be rejected" + (fragment == null ? "" : " with '" + fragment + "'"));
        assertOneLineNamingFile(file, e);
        if (fragment != null) assertMessage(file, e, fragment);
    }

    private static void assertMessage(Path file, BadInputException e, String fragment) {
        assertOneLineNamingFile(file, e);
        assertTrue(e.getMessage().contains(fragment), () -> "message '" + e.getMessage() + "' lacks '" + fragment + "'");
    }

    private static void assertOneLineNamingFile(Path file, BadInputException e) {
        assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
        assertFalse(e.getMessage().contains("\n") || e.getMessage().contains("\r"), e.getMessage());
    }
}
