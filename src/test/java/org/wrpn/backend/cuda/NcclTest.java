package org.wrpn.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wrpn.BadInputException;

/** What needs no GPU of the NCCL binding: a missing or wrong library is one line that says what to set. */
class NcclTest {
    @Test
    void aMissingLibraryIsOneLineNamingWhereItWasLooked(@TempDir Path dir) {
        BadInputException e = assertThrows(BadInputException.class, () -> Nccl.load(dir.resolve("libnccl.so.2").toString()));
        assertEquals("data-parallel training on GPUs needs NCCL: cannot load " + dir.resolve("libnccl.so.2"), e.getMessage());
    }

    @Test
    void aLibraryWithoutNcclsFunctionsIsRefusedByName() {
        // libc loads, but has no NCCL: the first missing function is named
        BadInputException e = assertThrows(BadInputException.class, () -> Nccl.load("libc.so.6"));
        assertEquals("the NCCL library has no ncclGetVersion (NCCL 2.x needed)", e.getMessage());
    }
}
